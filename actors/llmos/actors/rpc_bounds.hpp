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
};

} // namespace llmos
