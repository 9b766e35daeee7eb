// Gang placement: every replica of a task gets a slot, or none does. Replicas are placed one by
// one in the order a policy walks the nodes; when one finds no node, what the earlier ones took
// is given back, so a failed placement leaves the cluster exactly as it was.
#pragma once

#include <optional>

#include "scheduler/core/cluster_state.hpp"
#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

/// How a policy walks the nodes for each replica.
enum class node_order : uint8_t {
  first_fit,    ///< lowest node index that fits
  round_robin,  ///< first that fits from the cursor on, wrapping; the cursor moves past it
  least_loaded, ///< the least loaded node that fits
};

/// Places every replica of `req` (committing the placement to `cluster`) or none.
std::optional<placement> place_gang(const task_request& req, cluster_state& cluster,
                                    node_order order);

/// Gives back every slot of a placement.
void release_all(const placement& where, const resources& r, cluster_state& cluster);

} // namespace llmos::scheduler
