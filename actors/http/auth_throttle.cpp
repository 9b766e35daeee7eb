#include "http/auth_throttle.hpp"

#include <algorithm>

namespace llmos::http {

long auth_throttle::blocked_for(const std::string& address, clock::time_point now) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.failures < limits_.max_failures)
    return 0;
  const auto left = it->second.start + limits_.window - now;
  if (left <= clock::duration::zero()) {
    entries_.erase(it);
    return 0;
  }
  // Rounded up: "Retry-After: 0" would invite the client straight back.
  return static_cast<long>(std::chrono::ceil<std::chrono::seconds>(left).count());
}

void auth_throttle::failed(const std::string& address, clock::time_point now) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = entries_.find(address);
  if (it != entries_.end() && it->second.start + limits_.window <= now)
    entries_.erase(it), it = entries_.end();
  if (it == entries_.end()) {
    if (entries_.size() >= limits_.max_addresses)
      expire(now);
    it = entries_.emplace(address, entry{now, 0}).first;
  }
  ++it->second.failures;
}

std::size_t auth_throttle::addresses() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return entries_.size();
}

void auth_throttle::expire(clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->second.start + limits_.window <= now ? entries_.erase(it) : std::next(it);
  // Still full: the oldest window goes (a flood of fresh addresses evicts itself first-in).
  while (entries_.size() >= limits_.max_addresses) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
      return a.second.start < b.second.start;
    });
    entries_.erase(oldest);
  }
}

} // namespace llmos::http
