// Drives request/response traffic from inside an event-based actor (not a blocking
// scoped_actor, whose 20-90 us round trip would swamp what we measure): n sequential requests
// timed one by one, then n requests with up to `window` in flight for throughput.
#pragma once

#include <functional>

#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>

#include "bench_stats.hpp"

namespace llmos::bench {

/// Sends one request from `self` and calls `on_reply` (true: success) when it completes.
using send_fn = std::function<void(caf::event_based_actor* self, std::function<void(bool)>)>;

/// Measures one path; `warmup` untimed requests come first.
path_result measure_caf(caf::actor_system& sys, send_fn send, std::size_t n, std::size_t window,
                        std::size_t warmup = 1000);

} // namespace llmos::bench
