#include "llmos/runtime/drain.hpp"

#include <atomic>
#include <thread>

namespace llmos::drain {
namespace {

std::atomic<bool> draining{false};
std::atomic<int64_t> requests{0};

} // namespace

void begin() {
  draining.store(true);
}

bool active() {
  return draining.load();
}

int64_t in_flight() {
  return requests.load();
}

bool wait_idle(std::chrono::milliseconds grace) {
  const auto until = std::chrono::steady_clock::now() + grace;
  while (requests.load() > 0) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

request_guard::request_guard() {
  requests.fetch_add(1);
}

request_guard::~request_guard() {
  requests.fetch_sub(1);
}

void reset() {
  draining.store(false);
}

} // namespace llmos::drain
