// The actor kinds every llmos node can spawn by name. Components register their kind here so
// that topology files, `spawn` and the gateway know them.
#pragma once

#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// A table holding every built-in kind ("device", "model", "server", ...); library llmos_actors.
actor_kind_table builtin_actor_kinds();

/// The kinds whose actors need no LibTorch: device, dataset, scheduler, tuner, feedback, http
/// (library llmos_actors_base: a node without models, and the ThreadSanitizer build).
actor_kind_table torch_free_actor_kinds();

} // namespace llmos
