// The scheduler benchmark (llmos-bench scheduler): placement decisions per second on a simulated
// 10,000-node cluster (a burst that fills an empty cluster from a deep queue, and steady churn:
// one task ends, one arrives, one pass), beside a plain least-loaded scan without indices (the
// "raw" first version) and a Python peer with a heap; then every policy on one job trace in the
// simulator: mean and p99 completion time, waits, utilisation, preemptions.
#pragma once

#include <cstddef>
#include <string>

namespace llmos::bench {

struct scheduler_options {
  std::string json_path;
  std::string python_script; ///< "" = no Python peer
  std::size_t nodes = 10000;
  std::size_t churn = 200000;     ///< steady-state decisions timed
  std::size_t trace_jobs = 40000; ///< policy comparison
  std::size_t trace_nodes = 500;
};

int run_scheduler(const scheduler_options& opts);

} // namespace llmos::bench
