// What a task asks the scheduler for. A task is one unit of work (a training run, an evaluation,
// a data job, a tuning trial) made of `replicas` identical parts that must run at the same time
// (a data-parallel job): each replica needs `per_replica` on one node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmos::scheduler {

/// What one replica holds while it runs.
struct resources {
  uint32_t cpu_threads = 1;   ///< host threads (at least one: something drives the work)
  uint32_t gpus = 0;          ///< GPUs, each with gpu_memory_mb free
  uint64_t gpu_memory_mb = 0; ///< per GPU; 0 = the whole GPU, exclusively
};

/// A task as submitted.
struct task_request {
  std::string name;  ///< for people and logs
  std::string owner; ///< whose share it counts against (fair share)
  int priority = 0;  ///< higher runs first (priority policy) and may preempt lower
  uint32_t replicas = 1;
  resources per_replica;
  bool preemptible = true;                   ///< may be stopped for a higher-priority task
  std::map<std::string, std::string> detail; ///< what to run (the executor's business)
};

/// Where one replica runs: a node index of the cluster and the GPU indices it holds there.
struct replica_slot {
  std::size_t node = 0;
  std::vector<std::size_t> gpus;
};

/// Where every replica of a task runs (one slot per replica, in rank order).
using placement = std::vector<replica_slot>;

} // namespace llmos::scheduler
