#include "monitor/core/alert_rule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos::monitor {

using namespace yaml_fields;

namespace {

const std::vector<std::string> rule_keys{"name", "metric",    "labels", "aggregate", "quantile",
                                         "op",   "threshold", "for",    "severity",  "summary"};
const std::vector<std::string> op_words{">", ">=", "<", "<=", "==", "!="};
const std::vector<compare_op> op_values{compare_op::gt, compare_op::ge, compare_op::lt,
                                        compare_op::le, compare_op::eq, compare_op::ne};
// In the order of the enums they index (op_values, aggregate_mode).
const std::vector<std::string> aggregate_words{"max", "min", "sum", "avg"};
const std::vector<std::string> severity_words{"info", "warning", "critical"};

/// Index of `word` in `words`, refusing other words with a did-you-mean.
std::size_t read_word(const entry& e, const std::vector<std::string>& words,
                      const std::string& means) {
  const auto text = read_string(e);
  for (std::size_t i = 0; i < words.size(); ++i)
    if (words[i] == text)
      return i;
  // A reversed comparison ("=>") is one swap from both ">" and ">="; it means the latter.
  const std::string reversed(text.rbegin(), text.rend());
  auto match = std::find(words.begin(), words.end(), reversed) != words.end()
                   ? reversed
                   : closest_match(text, words);
  // Abbreviations ("warn", "crit") are too far for an edit distance but plainly meant.
  for (std::size_t i = 0; match.empty() && !text.empty() && i < words.size(); ++i)
    if (words[i].rfind(text, 0) == 0)
      match = words[i];
  refuse(e.line, e.key + ": '" + text + "' is not " + means + "; " +
                     (match.empty() ? "" : "did you mean '" + match + "'? ") +
                     "(one of: " + join_words(words) + ")");
}

/// A finite number; `hint` says what it means.
double read_number(const entry& e, const std::string& hint) {
  const auto text = read_string(e);
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || stop != end || !std::isfinite(value))
    refuse(e.line, e.key + ": '" + text + "' is not a number; " + hint);
  return value;
}

/// "0", or a whole number with a unit: ms, s, m, h.
std::chrono::milliseconds read_duration(const entry& e) {
  const auto text = read_string(e);
  const std::string bad = e.key + ": '" + text +
                          "' is not a duration; write a whole number with a unit: 500ms, 10s, "
                          "2m, 1h (or 0 to fire at once)";
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  // Eleven digits of hours already overflow milliseconds in 64 bits; refuse before computing.
  if (digits == 0 || digits > 10)
    refuse(e.line, bad);
  const int64_t n = std::stoll(text.substr(0, digits));
  const auto unit = text.substr(digits);
  if (unit.empty() && n == 0)
    return std::chrono::milliseconds{0};
  static const std::map<std::string, int64_t> unit_ms{
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  auto u = unit_ms.find(unit);
  if (u == unit_ms.end())
    refuse(e.line, bad);
  return std::chrono::milliseconds{n * u->second};
}

/// A Prometheus metric name: [A-Za-z_:][A-Za-z0-9_:]*.
std::string read_metric_name(const entry& e) {
  const auto name = read_string(e);
  const auto ok_first = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  const bool ok = !name.empty() && ok_first(name[0]) &&
                  std::all_of(name.begin(), name.end(),
                              [&](char c) { return ok_first(c) || (c >= '0' && c <= '9'); });
  if (!ok)
    refuse(e.line, e.key + ": '" + name +
                       "' is not a metric name; write it as on /metrics (letters, digits, '_', "
                       "':'), e.g. llmos_serving_queue_length");
  return name;
}

label_set read_labels(const entry& e) {
  if (!e.value.IsMap())
    refuse(e.line, "labels: must be a map of label: value, e.g. {model: quotes-topic}, but it is " +
                       kind_of(e.value));
  label_set labels;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const int line = line_of(it->first);
    if (!it->first.IsScalar() || !it->second.IsScalar())
      refuse(line, "labels: each label is 'name: value' with a single value");
    if (!labels.emplace(it->first.Scalar(), it->second.Scalar()).second)
      refuse(line, "labels: label '" + it->first.Scalar() + "' appears twice; keep one");
  }
  return labels;
}

alert_rule read_rule(const YAML::Node& node) {
  const int line = line_of(node);
  if (!node.IsMap())
    refuse(line, "rules: each rule is a map with at least 'name', 'metric' and 'threshold', but "
                 "this one is " +
                     kind_of(node));
  const auto fields = read_map(node, rule_keys, "a rule");
  const auto* name_entry = get(fields, "name");
  if (name_entry == nullptr)
    refuse(line, "name: the rule has no 'name: NAME' (a unique name for alerts and silences)");
  alert_rule rule;
  rule.line = line;
  rule.name = read_name(*name_entry);
  const std::string which = "rule '" + rule.name + "'";
  const auto* metric = get(fields, "metric");
  if (metric == nullptr)
    refuse(line, "metric: " + which +
                     " has no 'metric: NAME' (the metric to watch, as on "
                     "/metrics, e.g. llmos_serving_queue_length)");
  rule.metric = read_metric_name(*metric);
  const auto* threshold = get(fields, "threshold");
  if (threshold == nullptr)
    refuse(line, "threshold: " + which + " has no 'threshold: NUMBER' to compare the metric with");
  rule.threshold = read_number(*threshold, "write the value to compare with, e.g. 100 or 0.25");
  if (const auto* e = get(fields, "labels"))
    rule.labels = read_labels(*e);
  if (const auto* e = get(fields, "aggregate"))
    rule.aggregate = static_cast<aggregate_mode>(read_word(*e, aggregate_words, "an aggregate"));
  if (const auto* e = get(fields, "quantile")) {
    const double q = read_number(*e, "write a fraction in [0, 1], e.g. 0.99");
    if (q < 0 || q > 1)
      refuse(e->line,
             "quantile: " + read_string(*e) + " is outside [0, 1]; write p99 as 0.99, not 99");
    if (const auto* a = get(fields, "aggregate"))
      refuse(a->line, "aggregate: does not apply with 'quantile' (a quantile sums the buckets of "
                      "all matching series); remove one of them");
    rule.quantile = q;
  }
  if (const auto* e = get(fields, "op")) {
    // A bare > in YAML starts folded text, which arrives here empty: say how to write it.
    if (e->value.IsScalar() && trim(e->value.Scalar()).empty())
      refuse(e->line, "op: is empty; quote the comparison, e.g. op: \">\" (YAML reads a bare > "
                      "as the start of folded text)");
    rule.op = op_values[read_word(*e, op_words, "a comparison")];
  }
  if (const auto* e = get(fields, "for"))
    rule.for_duration = read_duration(*e);
  if (const auto* e = get(fields, "severity"))
    rule.severity = severity_words[read_word(*e, severity_words, "a severity")];
  if (const auto* e = get(fields, "summary"))
    rule.summary = read_string(*e);
  return rule;
}

std::vector<alert_rule> read_rules(const YAML::Node& root) {
  if (!root.IsMap())
    refuse(line_of(root), "rules: an alert rules file is a map with 'rules:' and a list of rules");
  auto top = read_map(root, {"rules"}, "the alert rules file");
  const auto* list = get(top, "rules");
  if (list == nullptr)
    refuse(1, "rules: missing 'rules:' with a list of rules");
  if (list->value.IsNull())
    return {};
  if (!list->value.IsSequence())
    refuse(list->line,
           "rules: must be a list of rules ('- name: ...'), but it is " + kind_of(list->value));
  std::vector<alert_rule> rules;
  std::map<std::string, int> seen;
  for (const auto& node : list->value) {
    auto rule = read_rule(node);
    // Alerts, silences and the status page address rules by name, so two with one name would
    // silently share (and overwrite) one state.
    if (auto [at, fresh] = seen.emplace(rule.name, rule.line); !fresh)
      refuse(rule.line, "name: rule name '" + rule.name + "' is used twice (also at line " +
                            std::to_string(at->second) + "); rule names must be unique");
    rules.push_back(std::move(rule));
  }
  return rules;
}

} // namespace

caf::expected<std::vector<alert_rule>> parse_alert_rules(const std::string& text,
                                                         const std::string& file) {
  return yaml_fields::parse_guarded(text, file,
                                    [](const YAML::Node& root) { return read_rules(root); });
}

caf::expected<std::vector<alert_rule>> load_alert_rules(const std::string& path) {
  return yaml_fields::load_file(path, "alert rules", parse_alert_rules);
}

bool compare(double value, compare_op op, double threshold) {
  switch (op) {
  case compare_op::gt:
    return value > threshold;
  case compare_op::ge:
    return value >= threshold;
  case compare_op::lt:
    return value < threshold;
  case compare_op::le:
    return value <= threshold;
  case compare_op::eq:
    return value == threshold;
  case compare_op::ne:
    // NaN != x is true in IEEE arithmetic; a missing value must not raise an alert.
    return !std::isnan(value) && value != threshold;
  }
  return false;
}

std::string to_string(compare_op op) {
  return op_words[static_cast<std::size_t>(op)];
}

std::string to_string(aggregate_mode mode) {
  return aggregate_words[static_cast<std::size_t>(mode)];
}

std::string summary_of(const alert_rule& rule) {
  if (!rule.summary.empty())
    return rule.summary;
  std::string subject = rule.metric;
  if (rule.quantile)
    subject = "quantile " + format_bound(*rule.quantile) + " of " + rule.metric;
  return subject + " " + to_string(rule.op) + " " + format_bound(rule.threshold);
}

} // namespace llmos::monitor
