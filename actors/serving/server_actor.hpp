// The server actor: deploys one registry version of a model on replicas (model actors, each on
// a CPU device of its own), follows an alias such as `production`, batches predictions per
// replica (serving/core/batcher) and routes them to the least loaded replica
// (serving/core/router). A new version is loaded beside the old one; requests switch when it is
// ready and the old replicas stop once their queues drain, so an alias move drops nothing.
#pragma once

#include <caf/fwd.hpp>

#include "llmos/messages/serving.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "server" actor kind: config model, registry, version, replicas, threads, max_batch,
/// max_delay_us, queue_limit, routing.
actor_kind server_kind();

namespace serving {
struct server_config;
}

/// Starts a server with a checked config (server_kind reads one from a topology's keys).
caf::actor spawn_server(caf::actor_system& system, serving::server_config cfg);

} // namespace llmos
