// Priority with aging: the highest effective priority first, where the effective priority is the
// submitted one plus `aging_per_s` for every second spent waiting, so a low-priority task that
// keeps being overtaken eventually outranks newcomers (no starvation). Replicas go to the least
// loaded nodes. A blocked task may preempt running tasks of lower *submitted* priority (aging
// never preempts, or waiting tasks would take turns stopping each other).
#pragma once

#include "scheduler/core/policy.hpp"

namespace llmos::scheduler {

class priority_policy : public policy {
public:
  explicit priority_policy(const policy_options& options) : options_(options) {}
  std::string name() const override { return "priority"; }
  std::vector<uint64_t> order(std::vector<queue_entry> queue,
                              const order_context& ctx) const override;
  node_order placement_order() const override { return node_order::least_loaded; }
  bool preempts() const override { return options_.preemption; }

  /// Submitted priority plus aging for the time waited.
  double effective_priority(const queue_entry& e, double now) const;

private:
  policy_options options_;
};

} // namespace llmos::scheduler
