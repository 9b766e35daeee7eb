// Registers every llmos message type, typed actor handle and the error category with an actor
// system configuration. Every process that hosts llmos actors or talks to them calls it once.
#pragma once

#include <caf/actor_system_config.hpp>

namespace llmos {

/// Adds the llmos type-ID block, typed handles and the "llmos" error category to `cfg`.
void register_messages(caf::actor_system_config& cfg);

} // namespace llmos
