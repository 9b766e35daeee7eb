// Job traces for the simulator: a synthetic one drawn from a seed (heavy-tailed run times, mostly
// single-replica jobs with some data-parallel gangs, a share of GPU jobs, several owners and
// priorities, Poisson arrivals at a chosen offered load), or one read from a CSV file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

/// One job of a trace.
struct sim_job {
  double arrival = 0; ///< seconds from the start
  double work_s = 0;  ///< run time when it runs undisturbed
  uint32_t replicas = 1;
  resources per_replica;
  int priority = 0;
  std::string owner = "default";
};

/// A simulated cluster: `nodes` nodes of `cpu_per_node` threads; every `gpu_node_every`-th node
/// (0 = none) also has `gpus_per_node` GPUs of `gpu_memory_mb`.
struct sim_cluster_spec {
  std::size_t nodes = 10000;
  uint32_t cpu_per_node = 32;
  uint32_t gpus_per_node = 8;
  std::size_t gpu_node_every = 4;
  uint64_t gpu_memory_mb = 81920;
};

/// `jobs` jobs whose demand is `load` (0..1+) of the cluster's threads on average; run times
/// are cut at `max_work_s`.
std::vector<sim_job> synthetic_trace(std::size_t jobs, const sim_cluster_spec& cluster, double load,
                                     uint64_t seed, double max_work_s = 43200);

/// Reads "arrival,work_s,replicas,cpu_threads,gpus,gpu_memory_mb,priority,owner" lines (a
/// header line is allowed); bad_config names the file, line and field.
caf::expected<std::vector<sim_job>> load_trace_csv(const std::string& path);

} // namespace llmos::scheduler
