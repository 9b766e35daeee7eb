// The gateway: a node's msgpack-RPC endpoint over TCP. A CAF broker reads frames and hands each
// call to a dispatcher actor, which maps the method name to typed messages through the
// method_table. State-changing methods need the auth token when the topology sets one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "llmos/actors/method_table.hpp"
#include "llmos/actors/rpc_bounds.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/rpc_codec.hpp"

namespace llmos::tls {
class context;
} // namespace llmos::tls

namespace llmos {

struct gateway_options {
  uint16_t port = 0;      ///< 0: the OS picks one (see gateway::port)
  std::string host;       ///< the address to listen on ("" = every interface)
  std::string auth_token; ///< non-empty: required (via the "auth" method) for mutating methods
  rpc::limits limits;
  rpc_bounds bounds;                 ///< what all clients together may hold of the node's memory
  std::shared_ptr<tls::context> tls; ///< a server context: the port speaks TLS only; null = plain
  /// The actor system whose multiplexer thread runs the listening socket and the connections;
  /// null = the system given to start_gateway. A node gives its RPC port a system of its own: a
  /// CAF system has one multiplexer thread, and one shared with node-to-node traffic let a
  /// flooding client delay the heartbeats that keep the cluster together.
  caf::actor_system* io_system = nullptr;
};

struct gateway {
  caf::actor broker;     ///< owns the listening socket and the connections
  caf::actor dispatcher; ///< maps calls to typed messages
  uint16_t port = 0;     ///< the port it listens on
};

/// Opens the msgpack-RPC port (address reuse on, so a restarted node binds it again while the
/// last one's connections linger in TIME_WAIT) and starts serving; io_failed when the port
/// cannot be bound.
caf::expected<gateway> start_gateway(caf::actor_system& sys, node_manager_actor manager,
                                     std::shared_ptr<const method_table> table,
                                     gateway_options opts);

/// Spawns only the dispatcher (tests drive it without sockets): it answers
/// (rpc_call_atom, method, packed params, authenticated, connection id: never reused, unlike
/// the connection handle) with the packed result;
/// notifications for that connection go to the sender as (notify_atom, connection, method,
/// packed params).
caf::actor spawn_rpc_dispatcher(caf::actor_system& sys, node_manager_actor manager,
                                std::shared_ptr<const method_table> table);

} // namespace llmos
