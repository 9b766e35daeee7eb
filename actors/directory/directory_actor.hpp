// The directory actor: serves the directory conversation (messages/directory.hpp) from a
// name_table, monitors every registered handle and tells watchers about each change.
#pragma once

#include <caf/fwd.hpp>

#include "llmos/messages/directory.hpp"

namespace llmos {

/// Spawns a directory actor.
directory_actor spawn_directory(caf::actor_system& sys);

} // namespace llmos
