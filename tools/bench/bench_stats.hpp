// Numbers for benchmark tables: percentiles of latency samples and a flat JSON object of
// results that llmos-bench prints and writes with --json.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace llmos::bench {

/// The q-quantile (0..1) of `samples` by nearest rank; 0 for no samples.
double percentile(std::vector<double> samples, double q);

/// One measured path: sequential round-trip latency and pipelined throughput.
struct path_result {
  double p50_us = 0;
  double p99_us = 0;
  double rps = 0;
  bool ok = false;
  std::string note; ///< why it is missing, when !ok
};

/// Flat results: "<path>_p50_us", "<path>_p99_us", "<path>_rps" for every path.
class result_sheet {
public:
  void add(const std::string& path, const path_result& r);
  void set(const std::string& key, double value);
  const path_result* find(const std::string& path) const;

  /// The table with ratios against `baseline` (e.g. "caf_remote").
  std::string table() const;

  /// The flat JSON object.
  std::string json() const;

private:
  std::vector<std::pair<std::string, path_result>> paths_;
  std::map<std::string, double> extra_;
};

} // namespace llmos::bench
