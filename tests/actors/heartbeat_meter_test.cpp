// Heartbeat counters: a heartbeat answered within its interval is only sent; a late or failed
// one is missed, per peer.
#include "node_manager/heartbeat_meter.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

double value(prometheus::Registry& registry, const std::string& family, const std::string& peer) {
  for (const auto& f : registry.Collect())
    if (f.name == family)
      for (const auto& m : f.metric)
        for (const auto& label : m.label)
          if (label.name == "peer" && label.value == peer)
            return m.counter.value;
  return 0;
}

TEST(heartbeat_meter, late_and_failed_heartbeats_are_missed_per_peer) {
  prometheus::Registry registry;
  llmos::heartbeat_meter meter{registry};
  for (int i = 0; i < 3; ++i)
    meter.sent("b");
  meter.sent("c");
  meter.answered("b", 40ms, 100ms);
  meter.answered("b", 150ms, 100ms);
  meter.failed("c");
  EXPECT_EQ(value(registry, "llmos_heartbeats_sent_total", "b"), 3);
  EXPECT_EQ(value(registry, "llmos_heartbeats_sent_total", "c"), 1);
  EXPECT_EQ(value(registry, "llmos_heartbeats_missed_total", "b"), 1);
  EXPECT_EQ(value(registry, "llmos_heartbeats_missed_total", "c"), 1);
}

} // namespace
