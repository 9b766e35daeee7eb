#include "scheduler/core/gang_placement.hpp"

namespace llmos::scheduler {

namespace {

/// The node one replica goes to, by the policy's walk; nullopt when none fits.
std::optional<std::size_t> pick_node(const resources& r, const cluster_state& c, node_order order) {
  if (r.cpu_threads > c.max_free_threads())
    return std::nullopt; // no node has that many threads free: no walk needed
  switch (order) {
  case node_order::first_fit:
    for (auto n : c.open_nodes())
      if (c.fits(n, r))
        return n;
    return std::nullopt;
  case node_order::round_robin: {
    const auto& open = c.open_nodes();
    for (auto it = open.lower_bound(c.cursor); it != open.end(); ++it)
      if (c.fits(*it, r))
        return *it;
    for (auto it = open.begin(); it != open.end() && *it < c.cursor; ++it)
      if (c.fits(*it, r))
        return *it;
    return std::nullopt;
  }
  case node_order::least_loaded:
    for (const auto& [load, n] : c.by_load())
      if (c.fits(n, r))
        return n;
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

std::optional<placement> place_gang(const task_request& req, cluster_state& cluster,
                                    node_order order) {
  placement where;
  where.reserve(req.replicas);
  for (uint32_t i = 0; i < req.replicas; ++i) {
    auto node = pick_node(req.per_replica, cluster, order);
    std::optional<replica_slot> slot;
    if (node)
      slot = cluster.take(*node, req.per_replica);
    if (!slot) {
      release_all(where, req.per_replica, cluster);
      return std::nullopt;
    }
    if (order == node_order::round_robin)
      cluster.cursor = *node + 1;
    where.push_back(std::move(*slot));
  }
  return where;
}

void release_all(const placement& where, const resources& r, cluster_state& cluster) {
  for (const auto& slot : where)
    cluster.release(slot, r);
}

} // namespace llmos::scheduler
