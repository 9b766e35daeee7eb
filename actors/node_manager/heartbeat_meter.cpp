#include "node_manager/heartbeat_meter.hpp"

namespace llmos {

heartbeat_meter::heartbeat_meter(prometheus::Registry& registry)
    : sent_(prometheus::BuildCounter()
                .Name("llmos_heartbeats_sent_total")
                .Help("heartbeats this node sent to each peer")
                .Register(registry)),
      missed_(prometheus::BuildCounter()
                  .Name("llmos_heartbeats_missed_total")
                  .Help("heartbeats a peer answered later than one heartbeat interval, or never")
                  .Register(registry)) {}

void heartbeat_meter::sent(const std::string& peer) {
  sent_.Add({{"peer", peer}}).Increment();
}

void heartbeat_meter::answered(const std::string& peer,
                               std::chrono::steady_clock::duration round_trip,
                               std::chrono::milliseconds interval) {
  if (round_trip > interval)
    missed_.Add({{"peer", peer}}).Increment();
}

void heartbeat_meter::failed(const std::string& peer) {
  missed_.Add({{"peer", peer}}).Increment();
}

} // namespace llmos
