// FIFO: tasks in submission order, each replica on the lowest-numbered node that fits. The
// baseline: simple and predictable, but a large task at the head holds back everything behind it
// (unless backfill lets smaller ones through) and first fit piles work on the first nodes.
#pragma once

#include "scheduler/core/policy.hpp"

namespace llmos::scheduler {

/// The ids of `queue` in FIFO order (shared by the policies that keep submission order).
std::vector<uint64_t> fifo_ids(std::vector<queue_entry> queue);

/// The policies that consider tasks in submission order (FIFO, round robin, least loaded): they
/// differ only in their name and in how they place replicas.
class submission_order_policy : public policy {
public:
  std::vector<uint64_t> order(std::vector<queue_entry> queue, const order_context&) const override {
    return fifo_ids(std::move(queue));
  }
};

class fifo_policy : public submission_order_policy {
public:
  std::string name() const override { return "fifo"; }
  node_order placement_order() const override { return node_order::first_fit; }
};

} // namespace llmos::scheduler
