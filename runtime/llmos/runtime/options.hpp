// Command-line options of llmos-node (Boost.Program_options). CAF's own options
// (--scheduler.*, --middleman.*, --openssl.*, --logger.*, --stream.*) pass through untouched to
// the actor system; anything else unknown is refused with its name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos {

/// How much lower the RPC port's threads run than the node's (llmos-node --rpc-nice).
inline constexpr int default_rpc_nice = 0;
/// RPC calls per second of all connections together while the node serves HTTP (rpc_bounds).
inline constexpr double default_rpc_busy_rate = 4000;

struct node_options {
  std::string topology_path; ///< "" = the embedded single-process default
  std::string node;          ///< "" = the topology's only node
  uint32_t threads = 2;      ///< CAF scheduler threads (this machine class has 2 cores)
  uint16_t rpc_port = 0;     ///< non-zero: overrides the node's rpc_port (e.g. for the default)
  std::string log_level = "info";
  double grace_s = 10.0; ///< SIGTERM: how long requests in flight and stopping actors may take
  double rpc_rate = 0;   ///< msgpack-RPC calls per second per connection (0: no limit)
  double rpc_busy_rate =
      default_rpc_busy_rate;       ///< RPC calls/s of all connections while serving HTTP (0: none)
  int rpc_nice = default_rpc_nice; ///< the RPC port's threads' nice value above the node's
  std::vector<std::string> caf_args; ///< passed through to caf::actor_system_config::parse
  bool help = false;
  std::string help_text;
};

/// Parses argv; error bad_option names the offending option and says what is accepted.
caf::expected<node_options> parse_node_options(int argc, const char* const* argv);

/// True for options that belong to CAF ("--scheduler.max-threads=2", ...).
bool is_caf_option(const std::string& arg);

} // namespace llmos
