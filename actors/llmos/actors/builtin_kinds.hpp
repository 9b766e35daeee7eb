// The actor kinds every llmos node can spawn by name. Components register their kind here so
// that topology files, `spawn` and the gateway know them.
#pragma once

#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// A table holding every built-in kind ("device", ...).
actor_kind_table builtin_actor_kinds();

} // namespace llmos
