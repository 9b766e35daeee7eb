// The device actor: serves the device conversation (messages/device.hpp) from a device_core.
// It runs detached, on a thread of its own, so that kernels never block CAF's scheduler.
#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "device/device_core.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// Starts a device actor on a thread of its own (a job blocks for as long as it computes), or
/// on the scheduler where the system runs workers inline (llmos/runtime/worker_threads.hpp).
device_actor spawn_device(caf::actor_system& system, device_core core);

/// The "device" actor kind: config type (cpu|cuda), index (GPU), threads.
actor_kind device_kind();

/// The device actor named by the `device` key of `ctx`'s config, hosted by the spawning node
/// (for kinds placed on one: model, server); bad_config naming `who`, the device and the node
/// when the node hosts none. Call only when the key is set.
caf::expected<device_actor> find_local_device(const spawn_context& ctx, const std::string& who);

} // namespace llmos
