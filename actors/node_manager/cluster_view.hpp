// How one node manager sees the cluster, as a plain class: each node of the topology with its
// state (self, connecting, up, lost), when it last answered, and when to try it again. The
// actor feeds it events and the clock; every decision (who is lost, when to retry) is made
// here so that tests can drive it with made-up times and no network.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/topology.hpp"

namespace llmos {

/// Exponential back-off for reconnect attempts: initial, doubled per failure, capped.
struct backoff_policy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds cap{2000};

  /// Delay before attempt number `failures` + 1.
  std::chrono::milliseconds delay(uint32_t failures) const;
};

class cluster_view {
public:
  using clock = std::chrono::steady_clock;

  cluster_view(const topology& topo, const std::string& self, backoff_policy backoff = {});

  /// A connection attempt to `node` succeeded.
  void on_connected(const std::string& node, clock::time_point now);

  /// A connection attempt failed; returns the delay before the next one.
  std::chrono::milliseconds on_connect_failed(const std::string& node, clock::time_point now);

  /// A heartbeat reply arrived.
  void on_heartbeat(const std::string& node, clock::time_point now);

  /// The connection closed (down message). Returns true if the node was up (newly lost).
  bool on_connection_closed(const std::string& node, clock::time_point now);

  /// Up nodes that have been silent longer than `lost_after`; they become lost.
  std::vector<std::string> expire(clock::time_point now);

  /// Peers (not self) in the given state.
  std::vector<std::string> peers_in(node_state state) const;

  /// Current state of `node` (connecting for unknown names).
  node_state state_of(const std::string& node) const;

  /// Every node of the topology, in topology order.
  std::vector<node_status> snapshot(clock::time_point now) const;

private:
  struct entry {
    node_status status;
    clock::time_point since;
    clock::time_point last_seen;
    uint32_t failures = 0;
  };
  void set_state(entry& e, node_state s, clock::time_point now);

  std::vector<std::string> order_;
  std::map<std::string, entry> nodes_;
  std::chrono::milliseconds lost_after_;
  backoff_policy backoff_;
};

} // namespace llmos
