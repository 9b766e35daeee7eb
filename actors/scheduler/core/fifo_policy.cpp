#include "scheduler/core/fifo_policy.hpp"

namespace llmos::scheduler {

std::vector<uint64_t> fifo_ids(std::vector<queue_entry> queue) {
  sort_fifo(queue);
  std::vector<uint64_t> ids;
  ids.reserve(queue.size());
  for (const auto& e : queue)
    ids.push_back(e.id);
  return ids;
}

} // namespace llmos::scheduler
