#include "node_manager/restart_policy.hpp"

#include <algorithm>

namespace llmos {

restart_tracker::restart_tracker(restart_mode mode, limits l) : mode_(mode), limits_(l) {}

std::optional<std::chrono::milliseconds> restart_tracker::on_exit(bool failure,
                                                                  clock::time_point now) {
  if (gave_up_ || mode_ == restart_mode::never || (mode_ == restart_mode::on_failure && !failure))
    return std::nullopt;
  while (!recent_.empty() && recent_.front() + limits_.window <= now)
    recent_.pop_front();
  if (recent_.size() >= limits_.max_restarts) {
    gave_up_ = true;
    return std::nullopt;
  }
  // Doubling per recent restart: a flapping actor waits longer, a stable one starts fast again.
  auto delay = limits_.initial;
  for (std::size_t i = 0; i < recent_.size() && delay < limits_.cap; ++i)
    delay *= 2;
  recent_.push_back(now);
  ++total_;
  return std::min(delay, limits_.cap);
}

} // namespace llmos
