// One llmos node inside a process: its actor system, node manager, directory (on the seed) and
// gateway, started from a topology. llmos-node wraps it in a program; other C++ services embed
// it directly (find_package(llmos), target llmos::node) to host or join a cluster in-process.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "llmos/actors/gateway.hpp"
#include "llmos/actors/method_table.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/actor_kinds.hpp"
#include "llmos/runtime/options.hpp"
#include "llmos/runtime/topology.hpp"

namespace llmos {

struct node_start_options {
  uint32_t threads = 2;                          ///< CAF scheduler threads
  std::vector<std::string> caf_args;             ///< e.g. "--middleman.heartbeat-interval=..."
  std::shared_ptr<const actor_kind_table> kinds; ///< null: builtin_actor_kinds()
  std::shared_ptr<const method_table> methods;   ///< null: builtin_methods()
  double rpc_rate = 0; ///< msgpack-RPC calls per second per connection (0: no limit)
  double rpc_busy_rate =
      default_rpc_busy_rate; ///< RPC calls/s of all connections while serving HTTP (0: none)
  /// How much lower (as nice, 0-19) the RPC port's threads run than the node's: a flooding
  /// client then gets the cores serving and heartbeats leave (0: the same priority).
  int rpc_nice = default_rpc_nice;
};

class node {
public:
  /// Starts node `name` of `topo`: publishes its node manager, opens its RPC port, starts its
  /// actors and begins connecting to peers (in the background, with back-off). Fails with
  /// no_such_node, io_failed (a port is taken) or bad_option (a CAF option is wrong).
  static caf::expected<std::unique_ptr<node>> start(topology topo, const std::string& name,
                                                    node_start_options opts = {});

  /// The embedded default: one node hosting everything, no ports unless asked.
  static caf::expected<std::unique_ptr<node>> start_embedded(node_start_options opts = {});

  /// A graceful stop (SIGTERM): new HTTP and RPC requests are refused (503 / unavailable) while
  /// those in flight finish, for at most `grace`; then the node's actors stop in dependency
  /// order (gateways, servers, analysts and schedulers, models, data sets and devices, the
  /// registry), each group waited for within what is left of `grace`. False when requests were
  /// still in flight or actors still running when it ran out (the destructor then stops the rest).
  bool drain(std::chrono::milliseconds grace);

  /// Stops every actor of this node and the actor system.
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  caf::actor_system& system() { return *system_; }
  const topology& topo() const { return topo_; }
  const std::string& name() const { return name_; }
  node_manager_actor manager() const { return manager_; }
  uint16_t port() const { return port_; } ///< node-to-node port actually bound (0: none)
  uint16_t rpc_port() const { return gateway_.port; } ///< msgpack-RPC port (0: none)

private:
  node() = default;

  void register_system_actor(const std::string& suffix, const std::string& kind,
                             const caf::actor& handle);
  /// Node-to-node traffic: the node manager published on the node port (TLS when `tls`).
  caf::error publish_node_port(const node_spec& spec, bool tls);
  /// The msgpack-RPC port in its own actor system, its dispatcher registered as the gateway.
  caf::error start_rpc(const node_spec& spec, const node_start_options& opts,
                       std::shared_ptr<const method_table> methods);
  /// Warnings for ports open beyond loopback without protection, then the "up" line.
  void report_up(const node_spec& spec, bool tls) const;
  /// This node's actors as the directory lists them (empty, with a warning, when it cannot).
  std::vector<actor_entry> local_actors(caf::scoped_actor& self);

  topology topo_;
  std::string name_;
  std::shared_ptr<const actor_kind_table> kinds_;
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  // The RPC port's own system (one multiplexer thread and one scheduler thread): clients'
  // traffic never waits behind node-to-node traffic on system_'s multiplexer, nor the reverse.
  std::unique_ptr<caf::actor_system_config> rpc_config_;
  std::unique_ptr<caf::actor_system> rpc_system_;
  directory_actor directory_;
  node_manager_actor manager_;
  gateway gateway_;
  uint16_t port_ = 0;
};

} // namespace llmos
