// Draining: how a stopping node stops taking work before it stops its actors. Once draining
// begins, the HTTP gateways answer 503 and the msgpack-RPC gateway `unavailable` to new requests,
// while requests already in flight finish; the node waits (up to its grace period) until none is
// left, then stops its actors in dependency order. Process-wide: a node process stops as a whole
// (one node per llmos-node process), and in-process tests that never drain are unaffected.
#pragma once

#include <chrono>
#include <cstdint>

namespace llmos::drain {

/// From now on, new requests are refused.
void begin();

/// Whether begin() was called (and not reset).
bool active();

/// Requests accepted and not yet answered, over every gateway of the process.
int64_t in_flight();

/// Waits until no request is in flight, at most `grace`; true when none is left.
bool wait_idle(std::chrono::milliseconds grace);

/// Counts one accepted request while it lives.
class request_guard {
public:
  request_guard();
  ~request_guard();
  request_guard(const request_guard&) = delete;
  request_guard& operator=(const request_guard&) = delete;
};

/// Back to taking requests (tests that drain and go on).
void reset();

} // namespace llmos::drain
