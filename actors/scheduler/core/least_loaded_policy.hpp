// Least loaded: tasks in submission order, each replica on the node whose larger of thread and
// GPU use is lowest (ties: lowest index), so work spreads to idle nodes first and hot spots do not
// form; the load index makes it a walk from the front of an ordered set, not a scan.
#pragma once

#include "scheduler/core/fifo_policy.hpp"

namespace llmos::scheduler {

class least_loaded_policy : public submission_order_policy {
public:
  std::string name() const override { return "least-loaded"; }
  node_order placement_order() const override { return node_order::least_loaded; }
};

} // namespace llmos::scheduler
