#include "serving/core/batcher.hpp"

#include <algorithm>
#include <cassert>
#include <string>

#include "llmos/messages/error.hpp"

namespace llmos::serving {

caf::error validate(const batcher_config& config) {
  if (config.max_batch == 0)
    return make_llmos_error(error_code::bad_params,
                            "batcher: 'max_batch' is 0; use at least 1 request per batch");
  if (config.queue_limit < config.max_batch)
    return make_llmos_error(error_code::bad_params,
                            "batcher: 'queue_limit' is " + std::to_string(config.queue_limit) +
                                ", below 'max_batch' " + std::to_string(config.max_batch) +
                                "; a full batch could never gather, raise queue_limit");
  if (config.priorities == 0)
    return make_llmos_error(error_code::bad_params,
                            "batcher: 'priorities' is 0; use at least 1 priority level");
  if (config.max_delay.count() < 0)
    return make_llmos_error(error_code::bad_params,
                            "batcher: 'max_delay' is negative; use 0 (no waiting) or more");
  return {};
}

dynamic_batcher::dynamic_batcher(batcher_config config)
    : config_(config), levels_(std::max<uint32_t>(config.priorities, 1)) {
  assert(!validate(config));
}

bool dynamic_batcher::push(uint64_t id, uint32_t priority, clock::time_point now) {
  if (size_ >= config_.queue_limit)
    return false;
  // Clamping rather than refusing: a client asking for a level we do not have still gets
  // served, just as the least urgent.
  const auto level = std::min<std::size_t>(priority, levels_.size() - 1);
  levels_[level].push_back(item{id, now});
  ++size_;
  return true;
}

dynamic_batcher::clock::time_point dynamic_batcher::oldest() const {
  // Each level is FIFO, so its front is its oldest; callers push with a monotonic clock.
  auto result = clock::time_point::max();
  for (const auto& level : levels_)
    if (!level.empty())
      result = std::min(result, level.front().enqueued);
  return result;
}

bool dynamic_batcher::ready(clock::time_point now) const {
  if (size_ == 0)
    return false;
  return size_ >= config_.max_batch || now - oldest() >= config_.max_delay;
}

std::optional<dynamic_batcher::clock::time_point> dynamic_batcher::deadline() const {
  if (size_ == 0)
    return std::nullopt;
  return oldest() + config_.max_delay;
}

std::vector<uint64_t> dynamic_batcher::take() {
  // Strict priority: under sustained urgent load the least urgent level waits. That is the
  // point of levels (interactive before bulk); the queue bound keeps the wait finite in memory.
  std::vector<uint64_t> batch;
  batch.reserve(std::min<std::size_t>(size_, config_.max_batch));
  for (auto& level : levels_) {
    while (!level.empty() && batch.size() < config_.max_batch) {
      batch.push_back(level.front().id);
      level.pop_front();
    }
  }
  size_ -= batch.size();
  return batch;
}

bool dynamic_batcher::remove(uint64_t id) {
  // A linear scan: the queue is bounded (about a thousand) and cancels are rare, so an index
  // beside the queues would cost more on every push than it saves here.
  for (auto& level : levels_) {
    auto it = std::find_if(level.begin(), level.end(), [id](const item& i) { return i.id == id; });
    if (it != level.end()) {
      level.erase(it);
      --size_;
      return true;
    }
  }
  return false;
}

} // namespace llmos::serving
