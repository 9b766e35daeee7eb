#include "llmos/runtime/serving_load.hpp"

#include <atomic>
#include <cstdint>
#include <limits>

namespace llmos::serving_load {
namespace {

std::atomic<int64_t> serving{0};
/// steady_clock ticks of the last request's end (relaxed: a hint, read by a rate limit).
std::atomic<int64_t> last_end{std::numeric_limits<int64_t>::min() / 2};

} // namespace

scope::scope() {
  serving.fetch_add(1, std::memory_order_relaxed);
}

scope::~scope() {
  last_end.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                 std::memory_order_relaxed);
  serving.fetch_sub(1, std::memory_order_relaxed);
}

bool busy(std::chrono::steady_clock::time_point now, std::chrono::milliseconds window) {
  if (serving.load(std::memory_order_relaxed) > 0)
    return true;
  const std::chrono::steady_clock::duration since{now.time_since_epoch().count() -
                                                  last_end.load(std::memory_order_relaxed)};
  return since < window;
}

} // namespace llmos::serving_load
