// The topology file: which nodes form a cluster (host, ports, devices), which actors each one
// hosts with their configs, and the cluster's TLS and auth settings. It is parsed and fully
// validated before anything starts, so a bad file never leaves a half-started cluster; every
// refusal names the file, the line and what to change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// One actor a node starts at boot.
struct actor_spec {
  std::string name;
  std::string kind;
  std::map<std::string, std::string> config; ///< validated against the kind's schema
  /// What the node does when the actor goes down: "always", "on-failure" (the default: an end
  /// that was not normal) or "never" (actors/node_manager/restart_policy.hpp).
  std::string restart = "on-failure";
  int line = 0; ///< where it was declared (for later messages)
};

/// One node process.
struct node_spec {
  std::string name;
  std::string host = "127.0.0.1";
  uint16_t port = 0;                       ///< CAF middleman port for node-to-node traffic
  uint16_t rpc_port = 0;                   ///< msgpack-RPC port for clients; 0 = no RPC endpoint
  std::vector<std::string> devices{"cpu"}; ///< "cpu", "cuda:0", "cuda:1", ...
  std::vector<actor_spec> actors;
  int line = 0;
};

/// Mutual TLS between nodes (CAF's OpenSSL module). Paths are resolved against the topology
/// file's folder.
struct tls_spec {
  std::string certificate;
  std::string key;
  std::string ca;
  std::string passphrase;
};

/// TLS on the msgpack-RPC port: the node's certificate and key (PEM), resolved like `tls`.
struct rpc_tls_spec {
  std::string certificate;
  std::string key;
};

/// The shortest cluster secret a topology may give (characters).
inline constexpr std::size_t min_cluster_secret = 16;

/// A whole cluster.
struct topology {
  std::string source; ///< the file it came from ("<embedded>" for the default)
  std::string cluster = "llmos";
  std::string seed; ///< node hosting the directory (default: the first node)
  std::optional<tls_spec> tls;
  std::optional<rpc_tls_spec> rpc_tls; ///< clients must speak TLS to the RPC port
  std::string auth_token;              ///< required for state-changing RPC methods when non-empty
  /// Without `tls`: the secret every node presents on the node port (TLS-PSK); empty = none.
  std::string cluster_secret;
  uint32_t heartbeat_ms = 500;   ///< how often node managers ping their peers
  uint32_t lost_after_ms = 2000; ///< a peer silent this long is reported lost
  std::vector<node_spec> nodes;

  /// The node called `name`, or nullptr.
  const node_spec* find_node(const std::string& name) const;
};

/// Parses and validates a topology file. Errors (code bad_topology) read
/// "FILE:LINE: what is wrong; how to fix it". Actor kinds and configs are checked against
/// `kinds`.
caf::expected<topology> load_topology(const std::string& path, const actor_kind_table& kinds);

/// Same, from text; `source` names it in messages and is the base for relative paths.
caf::expected<topology> parse_topology(const std::string& text, const std::string& source,
                                       const actor_kind_table& kinds);

/// The embedded default: one node "local" that hosts everything, ports chosen by the OS.
topology embedded_topology();

} // namespace llmos
