#include "scheduler/core/preemption.hpp"

#include <algorithm>

namespace llmos::scheduler {

std::optional<preemption_plan> plan_preemption(const task_request& req,
                                               std::vector<running_task> running, int margin,
                                               cluster_state& cluster, node_order order) {
  std::vector<running_task> candidates;
  for (auto& t : running)
    if (t.preemptible && t.priority + margin <= req.priority)
      candidates.push_back(t);
  if (candidates.empty())
    return std::nullopt;
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.priority != b.priority)
      return a.priority < b.priority;
    if (a.started != b.started)
      return a.started > b.started;
    return a.id > b.id;
  });
  preemption_plan plan;
  std::vector<const running_task*> released;
  for (const auto& victim : candidates) {
    release_all(*victim.where, *victim.per_replica, cluster);
    released.push_back(&victim);
    plan.victims.push_back(victim.id);
    if (auto where = place_gang(req, cluster, order)) {
      plan.where = std::move(*where);
      // Victims released earlier whose slots the new placement did not use keep running.
      std::vector<uint64_t> needed;
      for (const auto* v : released) {
        bool back = v != released.back();
        std::vector<const replica_slot*> retaken;
        for (const auto& slot : *v->where) {
          if (!back || !cluster.take_exact(slot, *v->per_replica)) {
            back = false;
            break;
          }
          retaken.push_back(&slot);
        }
        if (back)
          continue;
        for (const auto* slot : retaken)
          cluster.release(*slot, *v->per_replica);
        needed.push_back(v->id);
      }
      plan.victims = std::move(needed);
      return plan;
    }
  }
  // Not enough even with every candidate gone: put them back exactly where they were.
  for (const auto* victim : released)
    for (const auto& slot : *victim->where)
      cluster.take_exact(slot, *victim->per_replica);
  return std::nullopt;
}

} // namespace llmos::scheduler
