// The HTTP gateway actor: a cpp-httplib server on worker threads of its own (routes.hpp) in
// front of the actors. The actor itself keeps the server table fresh from the directory, samples
// device utilisation into the process metrics and evaluates the alert rules every second.
#pragma once

#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "http" actor kind: config port, host, token, body_limit, threads, registry, feedback,
/// alerts, timeout_ms.
actor_kind http_kind();

} // namespace llmos
