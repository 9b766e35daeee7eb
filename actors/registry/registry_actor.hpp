// The registry actor: model versions on disk (registry/core/registry_store) behind the registry
// conversation (messages/registry.hpp). Publishing is written atomically by the store; the actor
// adds the watchers that servers use to follow alias moves.
#pragma once

#include <caf/fwd.hpp>

#include "llmos/messages/registry.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "registry" actor kind: config root (folder of the store, created when missing).
actor_kind registry_kind();

} // namespace llmos
