// Whether this process is serving outside requests right now, for the parts that should give way
// to serving when both want the cores. The msgpack-RPC port is one: on two cores, one client
// flooding it with pings at 100k calls/s halved a node's HTTP serving, and a fixed per-connection
// limit would cap every RPC client (78-92k calls/s on an idle node) to protect serving that may
// not even be there. So the RPC port limits its calls while HTTP requests are being served
// (rpc_bounds::busy_calls_per_s) and not otherwise. Process-wide: every HTTP gateway of the
// process counts.
#pragma once

#include <chrono>

namespace llmos::serving_load {

/// While one lives, a request is being served (the HTTP front door's workers hold one per request).
class scope {
public:
  scope();
  ~scope();
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
};

/// Whether a request is being served now, or one ended within `window` of `now` (requests of
/// a kept-alive client come one after another: between two of them the process is still busy).
bool busy(std::chrono::steady_clock::time_point now,
          std::chrono::milliseconds window = std::chrono::milliseconds{200});

} // namespace llmos::serving_load
