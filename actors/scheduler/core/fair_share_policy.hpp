// Weighted fair share across owners (dominant resource fairness): the next task considered is the
// oldest one of the owner whose dominant share (the larger of its CPU and GPU share of the
// cluster, running tasks plus those already ordered ahead in this pass) divided by its weight is
// the smallest. Over time each busy owner holds about weight / sum(weights) of the cluster.
#pragma once

#include "scheduler/core/policy.hpp"

namespace llmos::scheduler {

class fair_share_policy : public policy {
public:
  explicit fair_share_policy(const policy_options& options) : options_(options) {}
  std::string name() const override { return "fair-share"; }
  std::vector<uint64_t> order(std::vector<queue_entry> queue,
                              const order_context& ctx) const override;
  node_order placement_order() const override { return node_order::least_loaded; }

  /// The owner's weight (1 when not configured; never below a small positive floor).
  double weight(const std::string& owner) const;

private:
  policy_options options_;
};

} // namespace llmos::scheduler
