#include "monitor/core/alert_engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmos::monitor {

namespace {

constexpr double no_value = std::numeric_limits<double>::quiet_NaN();

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

} // namespace

double rule_value(const alert_rule& rule, const std::vector<sample>& samples) {
  if (rule.quantile)
    return quantile_of(samples, rule.metric, rule.labels, *rule.quantile).value_or(no_value);
  double result = no_value;
  std::size_t count = 0;
  for (const auto& s : samples) {
    // A NaN gauge says "unknown", not a value to compare; it would also poison sum and avg.
    if (s.name != rule.metric || std::isnan(s.value) || !labels_match(s.labels, rule.labels))
      continue;
    if (count++ == 0) {
      result = s.value;
      continue;
    }
    switch (rule.aggregate) {
    case aggregate_mode::max:
      result = std::max(result, s.value);
      break;
    case aggregate_mode::min:
      result = std::min(result, s.value);
      break;
    case aggregate_mode::sum:
    case aggregate_mode::avg:
      result += s.value;
      break;
    }
  }
  if (rule.aggregate == aggregate_mode::avg && count > 0)
    result /= static_cast<double>(count);
  return result;
}

alert_engine::alert_engine(std::vector<alert_rule> rules)
    : rules_(std::move(rules)), states_(rules_.size()) {
  for (auto& s : states_)
    s.value = no_value;
}

alert_event alert_engine::event(std::size_t i, const char* what,
                                std::chrono::system_clock::time_point now) {
  alert_event e{rules_[i].name,   what,        rules_[i].severity, summary_of(rules_[i]),
                states_[i].value, unix_ms(now)};
  history_.push_back(e);
  while (history_.size() > history_limit)
    history_.pop_front();
  return e;
}

std::vector<alert_event> alert_engine::evaluate(const std::vector<sample>& samples,
                                                std::chrono::system_clock::time_point now) {
  std::vector<alert_event> events;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& rule = rules_[i];
    auto& s = states_[i];
    if (!s.evaluated) {
      s.evaluated = true;
      s.since = now;
    }
    s.value = rule_value(rule, samples);
    // No matching series means the condition is false: a metric that disappears (its replica
    // stopped) resolves the alert instead of freezing it. Rules that must catch a missing
    // metric need an explicit up-style gauge to compare.
    const bool holds = !std::isnan(s.value) && compare(s.value, rule.op, rule.threshold);
    if (!holds) {
      if (s.current == state::firing)
        events.push_back(event(i, "resolved", now));
      if (s.current != state::inactive) {
        s.current = state::inactive;
        s.since = now;
      }
      continue;
    }
    if (s.current == state::inactive) {
      s.current = state::pending;
      s.since = now;
    }
    if (s.current == state::pending && now - s.since >= rule.for_duration) {
      s.current = state::firing;
      s.since = now;
      events.push_back(event(i, "firing", now));
    }
  }
  return events;
}

std::vector<alert_status> alert_engine::current() const {
  static const char* const names[] = {"inactive", "pending", "firing"};
  std::vector<alert_status> out;
  out.reserve(rules_.size());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& s = states_[i];
    out.push_back(alert_status{rules_[i].name, names[static_cast<std::size_t>(s.current)], s.value,
                               s.evaluated ? unix_ms(s.since) : 0, rules_[i].severity,
                               summary_of(rules_[i])});
  }
  return out;
}

nlohmann::json to_json(const alert_event& event) {
  return {{"rule", event.rule},
          {"state", event.state},
          {"severity", event.severity},
          {"summary", event.summary},
          {"value", number_or_null(event.value)},
          {"at", event.at}};
}

nlohmann::json to_json(const alert_status& status) {
  return {{"rule", status.rule},
          {"state", status.state},
          {"value", number_or_null(status.value)},
          {"since", status.since},
          {"severity", status.severity},
          {"summary", status.summary}};
}

} // namespace llmos::monitor
