// The device actor: serves the device conversation (messages/device.hpp) from a device_core.
// It runs detached, on a thread of its own, so that kernels never block CAF's scheduler.
#pragma once

#include <caf/fwd.hpp>

#include "device/device_core.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// Starts a device actor on a thread of its own.
device_actor spawn_device(caf::actor_system& system, device_core core);

/// The "device" actor kind: config type (cpu|cuda), index (GPU), threads.
actor_kind device_kind();

} // namespace llmos
