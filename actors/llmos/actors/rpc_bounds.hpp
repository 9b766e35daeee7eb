// What all msgpack-RPC clients of a node together may hold of its memory (enforced by the
// gateway's rpc_budget, actors/gateway/rpc_budget.hpp).
#pragma once

#include <cstddef>

namespace llmos {

struct rpc_bounds {
  std::size_t max_connections = 256;           ///< open at once; more are closed on arrival
  std::size_t max_buffered_bytes = 256u << 20; ///< partial frames over every connection
  std::size_t max_in_flight = 64;              ///< calls per connection awaiting their answer
  std::size_t max_unsent_bytes = 16u << 20;    ///< answers per connection the client has not read
  /// Calls per second per connection (0: no limit; llmos-node --rpc-rate). A token bucket that
  /// holds a tenth of a second's calls (at least max_in_flight): a client that floods the port
  /// waits for tokens instead of taking the node's cores from serving and heartbeats.
  double max_calls_per_s = 0;
  /// While the process serves HTTP requests (serving_load::busy): calls per second over every
  /// connection together, an equal share each (0: no such limit; llmos-node --rpc-busy-rate).
  /// Serving comes first when both want the cores; an RPC client alone is never slowed.
  double busy_calls_per_s = 4000;
};

} // namespace llmos
