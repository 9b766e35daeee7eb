// The scheduler actor: the scheduler core (policies, gangs, preemption, retries) behind the
// scheduler conversation (messages/scheduler.hpp), with the cluster view taken from the node
// managers and device actors, tasks run as model replicas on the placed nodes, and the job table
// persisted under its root so a restarted scheduler resumes every task it accepted.
#pragma once

#include "llmos/messages/scheduler.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "scheduler" actor kind (config: policy, root, aging_per_s, preemption, backfill,
/// weights, max_attempts, retry_base_s, node_threads).
actor_kind scheduler_kind();

} // namespace llmos
