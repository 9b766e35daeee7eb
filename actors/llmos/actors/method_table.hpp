// The gateway's registration table: the one place where msgpack-RPC method names map to typed
// messages. Node-level methods ("ping", "spawn", ...) and per-kind actor methods ("device" /
// "info") are entries with a handler that unpacks the params, sends the typed message and packs
// the typed reply. Components add their entries when they add an actor kind.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <msgpack.hpp>

#include "llmos/messages/node_manager.hpp"

namespace llmos {

/// Delivers a packed msgpack result, or an error, to the RPC client.
using rpc_reply = std::function<void(caf::expected<std::string>)>;

/// What a handler works with. `params` lives as long as the call's zone (until reply).
struct rpc_call {
  caf::event_based_actor* self = nullptr; ///< the dispatcher, to send requests from
  node_manager_actor manager;             ///< this node's manager
  const msgpack::object* params = nullptr;
  caf::actor target;          ///< for actor methods: the resolved actor
  bool authenticated = false; ///< the connection presented the token (or none is set)
  const class method_table* table = nullptr; ///< for methods that dispatch further ("send")
  rpc_reply reply;
  /// Sends a msgpack-RPC notification [2, method, params] to the caller's connection (for
  /// progress of long calls); params already packed. Does nothing after the connection closed.
  std::function<void(const std::string& method, std::string packed_params)> notify;
};

/// One named operation.
struct rpc_method {
  std::string name;
  bool mutates = false; ///< needs the auth token when one is configured
  std::string usage;    ///< "spawn NODE KIND [name=N] [k=v...]"
  std::string help;
  std::function<void(rpc_call&)> call;
};

class method_table {
public:
  /// Adds a node-level method (called as METHOD).
  void add(rpc_method m);

  /// Adds a method of an actor kind (called as send ACTOR METHOD).
  void add(const std::string& kind, rpc_method m);

  const rpc_method* find(const std::string& name) const;
  const rpc_method* find(const std::string& kind, const std::string& name) const;

  /// Every entry as (kind or "", method), sorted.
  std::vector<std::pair<std::string, const rpc_method*>> list() const;

private:
  std::map<std::string, rpc_method> node_methods_;
  std::map<std::pair<std::string, std::string>, rpc_method> actor_methods_;
};

/// The table with every built-in method: ping, nodes, actors, spawn, stop, send, methods, and
/// the device kind's info and gelu.
method_table builtin_methods();

} // namespace llmos
