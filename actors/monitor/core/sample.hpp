// Metric samples as alert rules see them: flat (name, labels, value) triples in the Prometheus
// exposition model, converted from what a prometheus::Registry collects, and the two queries
// rules make over them: label matching and histogram_quantile. Flattening first (histogram into
// _bucket/_sum/_count series) means a rule names a metric exactly as it appears on /metrics.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace llmos::monitor {

/// Label name to value.
using label_set = std::map<std::string, std::string>;

/// One series' current value, named as in the Prometheus text format.
struct sample {
  std::string name;
  label_set labels;
  double value = 0.0;
};

/// The samples of collected families: counters, gauges and untyped as one sample each;
/// histograms as NAME_bucket{le="..."} (cumulative, "+Inf" last), NAME_sum and NAME_count;
/// summaries as NAME{quantile="..."}, NAME_sum and NAME_count.
std::vector<sample> samples_from(const std::vector<prometheus::MetricFamily>& families);

/// True when `labels` holds every name of `wanted` with the same value (extra labels are fine).
bool labels_match(const label_set& labels, const label_set& wanted);

/// The q-quantile (q in [0, 1]) of a histogram given as (upper bound, cumulative count) buckets
/// in any order, interpolated linearly within the bucket as Prometheus' histogram_quantile does:
/// the lowest bucket starts at 0 (or is answered by its bound when that is <= 0), a rank in the
/// +Inf bucket is answered by the highest finite bound. nullopt when there is no +Inf bucket,
/// fewer than two buckets, no observations, or q is outside [0, 1].
std::optional<double> histogram_quantile(double q, std::vector<std::pair<double, double>> buckets);

/// histogram_quantile over the METRIC_bucket samples whose labels match `wanted`, with the counts
/// of equal `le` summed over the matching series (as sum by (le) in PromQL); nullopt as above.
std::optional<double> quantile_of(const std::vector<sample>& samples, const std::string& metric,
                                  const label_set& wanted, double q);

/// An `le` or `quantile` label value as the Prometheus text format writes it ("0.25", "+Inf").
std::string format_bound(double value);

} // namespace llmos::monitor
