// The tuner actor: hyper-parameter studies (tuner/core: search spaces, random, grid, ASHA,
// Hyperband) whose trials are tasks of the scheduler. A trial trains to its rung's budget with a
// checkpoint; the evaluation decides whether it is promoted (resumed from the checkpoint to the
// next budget) or stopped; the study's state is saved after every result, so a restarted tuner
// resumes it; at the end the best trial's model is published to the registry.
#pragma once

#include "llmos/messages/tuner.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "tuner" actor kind (config: scheduler, registry, root, threads).
actor_kind tuner_kind();

} // namespace llmos
