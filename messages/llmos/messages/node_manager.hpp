// The node manager conversation: one node manager per node process owns what runs there. It
// answers pings, reports the cluster as it sees it (peers up or lost), and spawns and stops
// actors by kind and config. Peers talk to each other's node managers over CAF's middleman.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// Reply to a ping: who answered and since when it runs.
struct pong {
  std::string node;
  uint32_t pid = 0;
  int64_t uptime_ms = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, pong& x) {
  return f(caf::meta::type_name("pong"), field("node"), x.node, field("pid"), x.pid,
           field("uptime_ms"), x.uptime_ms);
}

/// How a node manager sees one node of the topology.
enum class node_state : uint8_t {
  self = 0,       ///< the node that answers
  connecting = 1, ///< not reached yet; retrying with back-off
  up = 2,         ///< connected and answering heartbeats
  lost = 3,       ///< was up, then its connection closed or heartbeats stopped
};

/// Name of a node state ("self", "connecting", "up", "lost").
const char* to_string(node_state s);
/// The state a name names; false (and `s` unchanged) for any other text.
bool from_string(std::string_view name, node_state& s);

/// One node of the cluster as seen from the node that answers.
struct node_status {
  std::string name;
  std::string host;
  uint16_t port = 0;     ///< CAF middleman port (node to node)
  uint16_t rpc_port = 0; ///< msgpack-RPC port (clients); 0 = none
  std::vector<std::string> devices;
  node_state state = node_state::connecting;
  int64_t since_ms = 0; ///< milliseconds since the state last changed
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), field("name"), x.name, field("host"), x.host,
           field("port"), x.port, field("rpc_port"), x.rpc_port, field("devices"), x.devices,
           field("state"), x.state, field("since_ms"), x.since_ms);
}

/// Ask a node manager to start an actor of a registered kind.
struct spawn_request {
  std::string node; ///< where to spawn; "" = the node that receives it
  std::string kind;
  std::string name;                          ///< cluster-wide unique; "" = generated
  std::map<std::string, std::string> config; ///< validated against the kind's schema
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, spawn_request& x) {
  return f(caf::meta::type_name("spawn_request"), field("node"), x.node, field("kind"), x.kind,
           field("name"), x.name, field("config"), x.config);
}

/// The node manager's typed interface.
using node_manager_actor = caf::typed_actor<
    // anyone -> node manager: liveness; peers use it as the heartbeat.
    caf::replies_to<ping_atom>::with<pong>,
    // anyone -> node manager: every node of the topology with its state as seen from here.
    caf::replies_to<nodes_atom>::with<std::vector<node_status>>,
    // anyone -> node manager: spawn; forwarded to the named node's manager when it is not this
    // one. Fails with unknown_kind, bad_config, duplicate_name, no_such_node, node_unreachable.
    caf::replies_to<spawn_atom, spawn_request>::with<actor_entry>,
    // anyone -> node manager: stop a named actor anywhere in the cluster; fails no_such_actor.
    caf::replies_to<stop_atom, std::string>::with<bool>,
    // anyone -> node manager: end a named actor anywhere in the cluster as a crash would (exit
    // reason unhandled_exception), so that its node restarts it under its restart policy.
    caf::replies_to<kill_atom, std::string>::with<bool>,
    // anyone -> node manager: every actor of the cluster (or of one node: non-empty name).
    caf::replies_to<actors_atom, std::string>::with<std::vector<actor_entry>>,
    // peer node manager -> node manager: the directory this node uses (hosted on the seed).
    caf::replies_to<get_atom, directory_atom>::with<directory_actor>,
    // node bootstrap -> node manager: a system actor hosted here (the gateway) to register in
    // the directory as soon as it is reachable.
    caf::reacts_to<register_atom, actor_entry>>;

} // namespace llmos
