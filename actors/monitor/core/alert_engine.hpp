// Evaluating alert rules against the latest samples, once per scrape. Each rule moves
// inactive -> pending (condition true, waiting out its 'for') -> firing, and back to inactive
// as soon as the condition is false; entering firing and leaving it are the events a person
// is told about, pending is not (a blip shorter than 'for' should page nobody). Time comes in
// as an argument, so the monitor actor drives it from its timer and tests from a fixed clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "monitor/core/alert_rule.hpp"
#include "monitor/core/sample.hpp"

namespace llmos::monitor {

/// A rule started or stopped firing.
struct alert_event {
  std::string rule;
  std::string state; ///< "firing" or "resolved"
  std::string severity;
  std::string summary;
  double value = 0.0; ///< the rule's value at the change; NaN when no series matched
  int64_t at = 0;     ///< unix time in milliseconds
};

/// Where a rule stands now.
struct alert_status {
  std::string rule;
  std::string state;  ///< "inactive", "pending" or "firing"
  double value = 0.0; ///< the latest value; NaN when no series matched
  int64_t since = 0;  ///< unix ms when the rule entered this state; 0 before the first evaluation
  std::string severity;
  std::string summary;
};

/// The rules and their states; plain data, driven by evaluate().
class alert_engine {
public:
  /// Events kept by history().
  static constexpr std::size_t history_limit = 200;

  /// An engine for `rules`, all inactive.
  explicit alert_engine(std::vector<alert_rule> rules);

  /// Evaluates every rule against `samples` at `now`; returns the events this produced (also
  /// appended to history()).
  std::vector<alert_event> evaluate(const std::vector<sample>& samples,
                                    std::chrono::system_clock::time_point now);

  /// Every rule's state, in rule order.
  std::vector<alert_status> current() const;

  /// The last history_limit events, oldest first.
  const std::deque<alert_event>& history() const { return history_; }

  /// The rules evaluated.
  const std::vector<alert_rule>& rules() const { return rules_; }

private:
  enum class state : uint8_t { inactive, pending, firing };

  struct rule_state {
    state current = state::inactive;
    double value = 0.0;
    std::chrono::system_clock::time_point since{};
    bool evaluated = false;
  };

  alert_event event(std::size_t i, const char* what, std::chrono::system_clock::time_point now);

  std::vector<alert_rule> rules_;
  std::vector<rule_state> states_;
  std::deque<alert_event> history_;
};

/// The value of `rule` over `samples`: the aggregate of the matching series (or the histogram
/// quantile); NaN when no series matches.
double rule_value(const alert_rule& rule, const std::vector<sample>& samples);

/// {"rule", "state", "severity", "summary", "value" (null when NaN), "at"}.
nlohmann::json to_json(const alert_event& event);

/// {"rule", "state", "value" (null when NaN), "since", "severity", "summary"}.
nlohmann::json to_json(const alert_status& status);

} // namespace llmos::monitor
