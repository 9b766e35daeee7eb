// Alert rules: "this metric, aggregated over the series matching these labels, compared with a
// threshold, held for this long, means trouble of this severity". They are read from a YAML
// file that operators write, so every refusal names the file, the line and the field, and a
// misspelt key or word gets a did-you-mean; a rule that loads is one the engine can evaluate.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "monitor/core/sample.hpp"

namespace llmos::monitor {

/// How a rule compares its value with the threshold.
enum class compare_op : uint8_t { gt, ge, lt, le, eq, ne };

/// How a rule folds the values of all matching series into one.
enum class aggregate_mode : uint8_t { max, min, sum, avg };

/// One alert rule (see parse_alert_rules for the file format).
struct alert_rule {
  std::string name;   ///< unique within a file
  std::string metric; ///< sample name; the histogram's base name with quantile
  label_set labels;   ///< series must carry these labels
  aggregate_mode aggregate = aggregate_mode::max;
  std::optional<double> quantile; ///< in [0, 1]: histogram_quantile over METRIC_bucket
  compare_op op = compare_op::gt;
  double threshold = 0.0;
  std::chrono::milliseconds for_duration{0}; ///< "for:": how long the condition must hold to fire
  std::string severity = "warning";          ///< info | warning | critical
  std::string summary;                       ///< one line for people; "" = "METRIC OP THRESHOLD"
  int line = 0; ///< where the rule starts in its file (0 = built in code)
};

/// Parses an alert rules file:
///   rules:
///     - name: serving-queue-backlog       # required, unique
///       metric: llmos_serving_queue_length  # required
///       labels: {model: quotes-topic}     # optional
///       aggregate: max                    # max | min | sum | avg (default max)
///       quantile: 0.99                    # optional, instead of aggregate
///       op: ">"                           # > >= < <= == != (default >; quote it in YAML)
///       threshold: 100                    # required
///       for: 10s                          # 0, 500ms, 10s, 2m, 1h (default 0)
///       severity: warning                 # info | warning | critical (default warning)
///       summary: "serving queue above 100 for 10 s"
/// `file` names the file in messages; errors (bad_config) read "FILE:LINE: FIELD: what; fix".
caf::expected<std::vector<alert_rule>> parse_alert_rules(const std::string& text,
                                                         const std::string& file);

/// Reads the file at `path` and parses it.
caf::expected<std::vector<alert_rule>> load_alert_rules(const std::string& path);

/// `value OP threshold`; false when value is NaN.
bool compare(double value, compare_op op, double threshold);

/// ">", ">=", "<", "<=", "==" or "!=".
std::string to_string(compare_op op);

/// "max", "min", "sum" or "avg".
std::string to_string(aggregate_mode mode);

/// The rule's summary, or "METRIC OP THRESHOLD" when it has none.
std::string summary_of(const alert_rule& rule);

} // namespace llmos::monitor
