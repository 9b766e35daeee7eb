// Why a queued task found no room, in words a person can act on: what one replica asks for
// against what the nodes have free, and how much of it models the scheduler did not place hold
// (a node full of server replicas starts nothing until they go: the task's status says so
// instead of leaving it "queued" with no reason).
#pragma once

#include <string>

#include "scheduler/core/cluster_state.hpp"
#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

/// "needs R replica(s) of T thread(s) [and G GPU(s)]; NODE: F of N threads free (E held by
/// models it did not place)[, G of H GPUs free]; ..." over the first `max_nodes` up nodes (the
/// nodes after them counted), or that no node is up.
std::string wait_reason(const task_request& req, const cluster_state& cluster,
                        std::size_t max_nodes = 4);

} // namespace llmos::scheduler
