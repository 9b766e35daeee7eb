// What the msgpack-RPC broker lets outside clients hold of a node's memory. Frames are bounded
// one by one (rpc::limits), but not what many connections hold together: 120 connections that
// each sent half of a 15 MiB frame grew a node by 1.8 GB, and a client that sent calls without
// reading the answers made the node buffer 1.7 GB of them. The budget counts per connection and
// in total; the broker refuses connections beyond the cap, closes a connection whose partial
// frame would take the total over its cap, and holds back the calls of a connection that has too
// many in flight or too many answer bytes unsent (closing it when more than max_unsent_bytes of
// calls wait: a client that sends and never reads).
// Plain (no CAF) so that its arithmetic is tested by itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "llmos/actors/rpc_bounds.hpp"

namespace llmos {

class rpc_budget {
public:
  explicit rpc_budget(rpc_bounds bounds = {}) : bounds_(bounds) {}

  /// A new connection; false (and not counted) when max_connections are open.
  bool open(uint64_t conn);
  void close(uint64_t conn);

  /// `conn` now holds `pending` bytes of unfinished frames; false when the total over every
  /// connection would pass max_buffered_bytes (the count is not changed then).
  bool buffer(uint64_t conn, std::size_t pending);

  /// Whether `conn` may start another call (below max_in_flight and max_unsent_bytes); the
  /// broker leaves further frames in the decoder while it may not.
  bool may_call(uint64_t conn) const;
  /// How long `conn` must wait before its next call under max_calls_per_s and, when `busy`
  /// (the process serves HTTP requests), its share of busy_calls_per_s (zero: it may call now,
  /// or no limit is in force).
  std::chrono::milliseconds rate_wait(uint64_t conn, std::chrono::steady_clock::time_point now,
                                      bool busy = false);
  /// The calls per second one connection may make now (0: no limit).
  double rate(bool busy) const;
  /// A call starts (it takes a token of the rate limit).
  void call_started(uint64_t conn);
  /// An answer of `bytes` was written to the connection's send buffer.
  void call_ended(uint64_t conn, std::size_t bytes);
  /// Bytes written to `conn` without a call (progress notifications).
  void wrote(uint64_t conn, std::size_t bytes);
  /// The socket took some of the buffer: `remaining` bytes are still unsent.
  void sent(uint64_t conn, std::size_t remaining);

  std::size_t connections() const { return conns_.size(); }
  std::size_t buffered_bytes() const { return buffered_; }
  const rpc_bounds& bounds() const { return bounds_; }

private:
  struct usage {
    std::size_t pending = 0;
    std::size_t in_flight = 0;
    std::size_t unsent = 0;
    double tokens = -1; ///< rate limit; -1 while none is in force (then a full bucket)
    std::chrono::steady_clock::time_point refilled;
  };
  static double bucket_size(double rate, std::size_t in_flight);
  rpc_bounds bounds_;
  std::unordered_map<uint64_t, usage> conns_;
  std::size_t buffered_ = 0;
};

} // namespace llmos
