// The RPC port's threads run at a lower priority: the hook lowers the thread that starts, only
// that thread, relative to where it was, never above nice 19.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "llmos/runtime/thread_priority.hpp"

namespace {

/// The nice value a new thread has after `hook` saw it start, and its parent's.
std::pair<int, int> started_under(llmos::nice_threads& hook) {
  int inside = -100;
  std::thread t{[&] {
    hook.thread_started();
    inside = llmos::current_thread_nice();
  }};
  t.join();
  return {inside, llmos::current_thread_nice()};
}

TEST(nice_threads, lowers_only_the_started_thread) {
  const int base = llmos::current_thread_nice();
  llmos::nice_threads hook{3};
  auto [inside, parent] = started_under(hook);
  EXPECT_EQ(inside, std::min(19, base + 3));
  EXPECT_EQ(parent, base);
}

TEST(nice_threads, zero_leaves_threads_alone_and_nineteen_is_the_floor) {
  const int base = llmos::current_thread_nice();
  llmos::nice_threads none{0};
  EXPECT_EQ(started_under(none).first, base);
  llmos::nice_threads far{40};
  EXPECT_EQ(started_under(far).first, 19);
}

} // namespace
