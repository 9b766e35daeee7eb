// The node manager's state and the steps its three files share: node_manager_actor.cpp (the
// behaviour: spawn, stop, listings), node_manager_local.cpp (this node's actors, supervised and
// restarted) and node_manager_peers.cpp (the directory, the peers and their heartbeats).
// Internal to the node manager.
#pragma once

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "node_manager/cluster_view.hpp"
#include "node_manager/node_manager_actor.hpp"
#include "node_manager/restart_policy.hpp"

namespace llmos::node_manager_detail {

// Timer messages the node manager sends itself; not part of the public interface.
using node_manager_impl =
    node_manager_actor::extend<caf::reacts_to<tick_atom>, caf::reacts_to<retry_atom, std::string>,
                               caf::reacts_to<restart_atom, std::string>>;

constexpr auto peer_timeout = std::chrono::seconds(10);
constexpr auto directory_timeout = std::chrono::seconds(10);

/// What restarting a local actor takes: its kind and whole config (the directory's copy is
/// redacted) and its restart history.
struct supervised_actor {
  std::string kind;
  std::map<std::string, std::string> config;
  restart_tracker tracker;
};

struct node_manager_state {
  node_manager_config cfg;
  std::unique_ptr<cluster_view> view;
  std::map<std::string, node_manager_actor> peers;
  std::map<std::string, actor_entry> local; ///< actors hosted by this node
  /// This node's system actors (itself, its gateway, the directory on the seed), as registered.
  std::map<std::string, actor_entry> system;
  std::vector<actor_entry> unregistered;              ///< waiting for the directory
  std::map<std::string, supervised_actor> supervised; ///< local actors with a restart policy
  uint64_t spawned = 0;
  cluster_view::clock::time_point started = cluster_view::clock::now();
  uint32_t pid = static_cast<uint32_t>(::getpid()); // pings are the heartbeat: keep them cheap
  static inline const char* name = "llmos.node_manager";
};

using self_ptr = node_manager_impl::stateful_pointer<node_manager_state>;

inline auto now() {
  return cluster_view::clock::now();
}

/// Registers an entry, or parks it until the directory is known (a non-seed node that has not
/// reached the seed yet still runs its actors; they become visible once it connects).
void register_entry(self_ptr self, actor_entry entry);

/// Connects to peer node `node` (retrying while it is away) and fetches the directory from it
/// when it is the seed.
void connect_peer(self_ptr self, const std::string& node);

/// Peer `node` is gone (`why`): its actors leave the view; a reconnect is scheduled.
void on_peer_lost(self_ptr self, const std::string& node, const std::string& why);

/// Pings every peer, declares lost those silent past lost_after_ms, and comes again.
void on_heartbeat_tick(self_ptr self);

/// Spawns an actor of a registered kind on this node and records it; registration follows.
caf::expected<actor_entry> start_local(self_ptr self, const std::string& kind_name,
                                       std::string name, std::map<std::string, std::string> config,
                                       std::string restart = "on-failure");

/// When `source` is one of this node's actors: forgets it, applies its policy, true.
bool local_ended(self_ptr self, const caf::actor_addr& source, const caf::error& reason);

/// The restart itself: the same kind, name and config; a start that fails counts as another end.
void restart_local(self_ptr self, const std::string& name);

/// The actors the topology puts on this node, each registered once it runs.
void start_topology_actors(self_ptr self);

} // namespace llmos::node_manager_detail
