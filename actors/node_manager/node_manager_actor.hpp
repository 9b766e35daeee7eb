// The node manager actor: one per node process. It connects to every peer of the topology with
// back-off, watches them with heartbeats and monitors (a lost peer is logged and reported by
// `nodes`), spawns and stops actors by kind, and keeps the directory up to date.
#pragma once

#include <string>

#include <caf/fwd.hpp>

#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/actor_kinds.hpp"
#include "llmos/runtime/topology.hpp"

namespace llmos {

struct node_manager_config {
  topology topo;
  std::string self;                        ///< this node's name in `topo`
  const actor_kind_table* kinds = nullptr; ///< must outlive the actor
  directory_actor directory;               ///< set on the seed node; others ask the seed
  bool tls = false;                        ///< connect to peers through CAF's OpenSSL module
};

/// Spawns the node manager; it starts the node's topology actors and connects to peers.
node_manager_actor spawn_node_manager(caf::actor_system& sys, node_manager_config cfg);

} // namespace llmos
