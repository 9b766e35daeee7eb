// Heartbeats as Prometheus counters, per peer: sent, and missed (no answer within one heartbeat
// interval: late or never). A node's peers judge it lost only after lost_after_ms of silence, so a
// missed heartbeat is the early sign of a starved node manager (a flooding client, a busy
// scheduler): `llmos-bench hardening` reads these counters while it floods a node.
#pragma once

#include <chrono>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace llmos {

class heartbeat_meter {
public:
  /// Registers llmos_heartbeats_sent_total and llmos_heartbeats_missed_total in `registry`.
  explicit heartbeat_meter(prometheus::Registry& registry);

  /// A heartbeat went to `peer`.
  void sent(const std::string& peer);

  /// Its answer came after `round_trip`; it counts as missed when that exceeds `interval`.
  void answered(const std::string& peer, std::chrono::steady_clock::duration round_trip,
                std::chrono::milliseconds interval);

  /// It was never answered (timed out or failed).
  void failed(const std::string& peer);

private:
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& missed_;
};

} // namespace llmos
