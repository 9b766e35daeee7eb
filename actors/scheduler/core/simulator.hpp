// A deterministic discrete-event simulator: the real scheduler_core and policies run against a
// simulated cluster (thousands of nodes) and a job trace in simulated time. Jobs run for their
// work time; a preempted job loses the work since its last checkpoint and pays a restart cost;
// a lost node sends its jobs back to the queue the same way. Used by the tests (fairness,
// starvation, gangs at scale) and by `llmos-bench scheduler` (policy comparison).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "scheduler/core/policy.hpp"
#include "scheduler/core/trace.hpp"

namespace llmos::scheduler {

struct sim_options {
  double checkpoint_every_s = 60; ///< work lost on preemption is what ran since the last one
  double restart_cost_s = 5;      ///< added to a job each time it starts again
  double fail_node_at = -1;       ///< >= 0: node 0 is lost at this time ...
  double node_back_at = -1;       ///< ... and comes back at this time (-1 = never)
  double share_window_s = -1;     ///< owner_thread_seconds counts [0, this) only (-1 = all)
};

struct sim_result {
  std::string policy;
  std::size_t jobs = 0;
  std::size_t finished = 0;
  double mean_jct_s = 0; ///< job completion time: finish - arrival
  double p99_jct_s = 0;
  double mean_wait_s = 0; ///< first start - arrival
  double max_wait_s = 0;
  std::map<std::string, double> max_wait_by_owner;
  double makespan_s = 0;
  double cpu_utilisation = 0; ///< thread-seconds used / (threads * makespan)
  double gpu_utilisation = 0;
  uint64_t preemptions = 0;
  uint64_t reschedules = 0;
  uint64_t placements = 0;
  double decide_seconds = 0; ///< wall time spent in schedule()
  bool gangs_whole = true;   ///< every start placed all replicas of its job
  std::map<std::string, double> owner_thread_seconds; ///< within sim_options::share_window_s
  std::map<std::string, double> mean_jct_by_priority; ///< "0", "5", ... -> seconds
};

caf::expected<sim_result> simulate(const std::vector<sim_job>& trace,
                                   const sim_cluster_spec& cluster, const policy_options& policy,
                                   const sim_options& options = {});

/// The simulated cluster as a cluster_state (node names "n0", "n1", ...).
cluster_state make_sim_cluster(const sim_cluster_spec& spec);

} // namespace llmos::scheduler
