// A scheduling policy decides two things: in which order queued tasks are considered, and how
// their replicas are placed on nodes. Both are pure functions of the queue, the options and the
// cluster view (the round-robin cursor is part of the view), so the actor, the simulator and the
// tests run the same code. One policy per file pair; make_policy picks one by name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "scheduler/core/cluster_state.hpp"
#include "scheduler/core/gang_placement.hpp"
#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

/// Knobs shared by the policies (each reads the ones it needs).
struct policy_options {
  std::string policy = "priority"; ///< fifo | round-robin | least-loaded | priority | fair-share
  double aging_per_s = 0.01;       ///< priority: points gained per second of waiting
  bool preemption = true;          ///< priority: a blocked task may stop lower-priority ones
  int preempt_margin = 1;          ///< ... whose priority is at least this much lower
  bool backfill = true;            ///< later tasks may start while the first one waits ...
  double reserve_after_s = 300;    ///< ... until it has waited this long (then it reserves)
  std::map<std::string, double> weights; ///< fair share: owner -> weight (default 1)
  double retry_base_s = 1;               ///< failed tasks wait base * 2^attempt ...
  double retry_max_s = 60;               ///< ... at most this long
  uint32_t max_attempts = 3;             ///< then they fail for good
  std::size_t max_pending = 10000;       ///< queued or starting tasks; submit refuses beyond
};

/// A queued task as the ordering sees it.
struct queue_entry {
  uint64_t id = 0;
  const task_request* req = nullptr;
  double submitted = 0; ///< seconds
};

/// What the ordering may look at besides the queue.
struct order_context {
  double now = 0;
  const std::map<std::string, double>* owner_share = nullptr; ///< dominant share held (0..1)
  double cpu_total = 1;
  double gpu_total = 0;
};

class policy {
public:
  virtual ~policy() = default;
  virtual std::string name() const = 0;
  /// Task ids in the order they are to be considered.
  virtual std::vector<uint64_t> order(std::vector<queue_entry> queue,
                                      const order_context& ctx) const = 0;
  /// How replicas are placed.
  virtual node_order placement_order() const = 0;
  /// Whether a blocked task may preempt lower-priority running ones.
  virtual bool preempts() const { return false; }

  /// Places `req` on `cluster` by this policy (committing it), or nullopt.
  std::optional<placement> place(const task_request& req, cluster_state& cluster) const {
    return place_gang(req, cluster, placement_order());
  }
};

/// The policy named in `options.policy`; bad_config (with the names known) otherwise.
caf::expected<std::unique_ptr<policy>> make_policy(const policy_options& options);

/// The policy names make_policy knows.
const std::vector<std::string>& policy_names();

/// Orders entries by submission time, then id (FIFO and the policies that keep FIFO order).
void sort_fifo(std::vector<queue_entry>& queue);

/// The dominant share one replica set of `req` takes of the cluster (max of CPU and GPU share).
double dominant_share(const task_request& req, double cpu_total, double gpu_total);

} // namespace llmos::scheduler
