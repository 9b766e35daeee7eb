#include "scheduler/core/priority_policy.hpp"

#include <algorithm>

namespace llmos::scheduler {

double priority_policy::effective_priority(const queue_entry& e, double now) const {
  return e.req->priority + options_.aging_per_s * std::max(0.0, now - e.submitted);
}

std::vector<uint64_t> priority_policy::order(std::vector<queue_entry> queue,
                                             const order_context& ctx) const {
  std::vector<std::pair<double, const queue_entry*>> keyed;
  keyed.reserve(queue.size());
  for (const auto& e : queue)
    keyed.emplace_back(effective_priority(e, ctx.now), &e);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first)
      return a.first > b.first;
    if (a.second->submitted != b.second->submitted)
      return a.second->submitted < b.second->submitted;
    return a.second->id < b.second->id;
  });
  std::vector<uint64_t> ids;
  ids.reserve(keyed.size());
  for (const auto& k : keyed)
    ids.push_back(k.second->id);
  return ids;
}

} // namespace llmos::scheduler
