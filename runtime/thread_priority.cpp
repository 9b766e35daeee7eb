#include "llmos/runtime/thread_priority.hpp"

#include <algorithm>
#include <cerrno>

#include <sys/resource.h>
#include <unistd.h>

namespace llmos {

namespace {

constexpr int weakest_nice = 19;

id_t this_thread_id() {
  return static_cast<id_t>(gettid());
}

} // namespace

void nice_threads::thread_started() {
  if (increment_ <= 0)
    return;
  // Relative to what the thread inherited (a node started under `nice` stays below it).
  const int now = current_thread_nice();
  // Failure leaves the thread at its priority: slower flood protection, never a broken node.
  (void)setpriority(PRIO_PROCESS, this_thread_id(), std::min(weakest_nice, now + increment_));
}

int current_thread_nice() {
  errno = 0; // getpriority may return -1 as a value
  const int value = getpriority(PRIO_PROCESS, this_thread_id());
  return errno == 0 ? value : 0;
}

} // namespace llmos
