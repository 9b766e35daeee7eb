// Round robin: tasks in submission order, replicas dealt to the nodes in turn (a cursor walks
// the node list and wraps), so consecutive tasks land on different nodes even when the first
// node still has room: spreads load and failure risk without looking at load at all.
#pragma once

#include "scheduler/core/fifo_policy.hpp"

namespace llmos::scheduler {

class round_robin_policy : public submission_order_policy {
public:
  std::string name() const override { return "round-robin"; }
  node_order placement_order() const override { return node_order::round_robin; }
};

} // namespace llmos::scheduler
