#include "scheduler/core/fair_share_policy.hpp"

#include <algorithm>
#include <deque>
#include <queue>

namespace llmos::scheduler {

double fair_share_policy::weight(const std::string& owner) const {
  auto it = options_.weights.find(owner);
  return it == options_.weights.end() ? 1.0 : std::max(1e-6, it->second);
}

std::vector<uint64_t> fair_share_policy::order(std::vector<queue_entry> queue,
                                               const order_context& ctx) const {
  sort_fifo(queue);
  // Progressive filling: a heap of owners keyed by (share / weight); the owner on top gives its
  // oldest task and its share grows by what that task would take.
  std::map<std::string, std::deque<const queue_entry*>> by_owner;
  for (const auto& e : queue)
    by_owner[e.req->owner].push_back(&e);
  using item = std::pair<double, std::string>;
  std::priority_queue<item, std::vector<item>, std::greater<>> heap;
  std::map<std::string, double> share;
  for (const auto& [owner, tasks] : by_owner) {
    double held = 0;
    if (ctx.owner_share) {
      auto it = ctx.owner_share->find(owner);
      held = it == ctx.owner_share->end() ? 0.0 : it->second;
    }
    share[owner] = held;
    heap.emplace(held / weight(owner), owner);
  }
  std::vector<uint64_t> ids;
  ids.reserve(queue.size());
  while (!heap.empty()) {
    auto owner = heap.top().second;
    heap.pop();
    auto& tasks = by_owner[owner];
    const auto* e = tasks.front();
    tasks.pop_front();
    ids.push_back(e->id);
    share[owner] += dominant_share(*e->req, ctx.cpu_total, ctx.gpu_total);
    if (!tasks.empty())
      heap.emplace(share[owner] / weight(owner), owner);
  }
  return ids;
}

} // namespace llmos::scheduler
