// The scheduler's view of the cluster: every node's CPU threads and GPUs, what is in use, and two
// indices the placement strategies walk (nodes with free threads by number, and by load), so that
// a placement on a 10,000-node cluster looks at a few nodes rather than all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

struct gpu_slot {
  uint64_t memory_mb = 0;
  uint64_t used_mb = 0;
  uint32_t holders = 0;  ///< replicas using it (external ones included)
  std::string device;    ///< the device actor's name ("" when unknown)
  uint32_t external = 0; ///< of the holders: models the scheduler did not place
};

struct node_slot {
  std::string name;
  bool up = true;
  uint32_t cpu_threads = 0;
  uint32_t cpu_used = 0; ///< external threads included
  std::vector<gpu_slot> gpus;
  uint32_t cpu_external = 0; ///< of cpu_used: held by models the scheduler did not place
};

class cluster_state {
public:
  /// Adds a node; answers its index (indices never change).
  std::size_t add_node(node_slot node);

  const std::vector<node_slot>& nodes() const { return nodes_; }
  std::optional<std::size_t> find(const std::string& name) const;

  /// Whether one replica needing `r` fits on `node` now.
  bool fits(std::size_t node, const resources& r) const;

  /// Takes `r` on `node` (best-fitting GPUs); nullopt when it does not fit.
  std::optional<replica_slot> take(std::size_t node, const resources& r);

  /// Takes exactly `slot` again (undoing a release); false when it no longer fits.
  bool take_exact(const replica_slot& slot, const resources& r);

  /// Gives back what `take` took.
  void release(const replica_slot& slot, const resources& r);

  /// Sets what models the scheduler did not place (topology models, server replicas) hold on
  /// `node`: `cpu_threads`, and per GPU (by index, missing ones 0) how many hold it. They count
  /// like the scheduler's own replicas; a node may be over-full (nothing more fits then).
  void set_external(std::size_t node, uint32_t cpu_threads, const std::vector<uint32_t>& gpus);

  /// Marks a node up or down; a down node gets nothing new (what runs there is the caller's).
  void set_up(std::size_t node, bool up);

  /// Up nodes with a free thread, by index (first fit, round robin).
  const std::set<std::size_t>& open_nodes() const { return open_; }
  /// Up nodes with a free thread, least loaded first: (load in 1/1000, index).
  const std::set<std::pair<uint32_t, std::size_t>>& by_load() const { return by_load_; }

  /// The most free threads any up node has (a request for more is refused without a walk).
  uint32_t max_free_threads() const {
    return free_count_.empty() ? 0 : free_count_.rbegin()->first;
  }

  /// Load of a node in 1/1000: the larger of its thread and GPU use.
  uint32_t load(std::size_t node) const;

  uint64_t cpu_total() const { return cpu_total_; }
  uint64_t cpu_used() const { return cpu_used_; }
  uint64_t gpu_total() const { return gpu_total_; }
  uint64_t gpu_used() const { return gpu_used_; }

  /// Round robin's cursor: the node index the next search starts at.
  std::size_t cursor = 0;

private:
  void unindex(std::size_t node);
  void index(std::size_t node);

  std::vector<node_slot> nodes_;
  std::set<std::size_t> open_;
  std::set<std::pair<uint32_t, std::size_t>> by_load_;
  std::vector<uint32_t> indexed_load_;
  std::map<uint32_t, std::size_t> free_count_; ///< free threads -> up nodes with that many
  uint64_t cpu_total_ = 0;
  uint64_t cpu_used_ = 0;
  uint64_t gpu_total_ = 0;
  uint64_t gpu_used_ = 0; ///< GPUs with at least one holder
};

} // namespace llmos::scheduler
