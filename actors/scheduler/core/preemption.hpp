// Preemption: which running tasks to stop so that a blocked higher-priority task fits. Only
// preemptible tasks at least `margin` below the blocked task's priority qualify; they are taken
// lowest priority first and, among equals, most recently started first (least work lost since
// their last checkpoint), and no more of them than needed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "scheduler/core/gang_placement.hpp"

namespace llmos::scheduler {

/// A running task as preemption sees it.
struct running_task {
  uint64_t id = 0;
  int priority = 0;
  double started = 0;
  bool preemptible = true;
  const placement* where = nullptr;
  const resources* per_replica = nullptr;
};

/// What preempting buys: the tasks to stop and where the blocked task then runs.
struct preemption_plan {
  std::vector<uint64_t> victims;
  placement where;
};

/// Finds the victims for `req` among `running`. On success the victims' resources are released
/// and the new placement is committed to `cluster`; on failure `cluster` is left as it was.
std::optional<preemption_plan> plan_preemption(const task_request& req,
                                               std::vector<running_task> running, int margin,
                                               cluster_state& cluster, node_order order);

} // namespace llmos::scheduler
