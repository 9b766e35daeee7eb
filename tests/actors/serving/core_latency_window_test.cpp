// Percentiles over the latency window against hand-computed values, and the ring buffer
// forgetting old samples.
#include <gtest/gtest.h>

#include "serving/core/latency_window.hpp"

namespace {

using llmos::serving::latency_window;

TEST(latency_window, empty_window_answers_zero) {
  latency_window w{8};
  EXPECT_EQ(w.percentile(50), 0.0);
  EXPECT_EQ(w.mean(), 0.0);
  EXPECT_EQ(w.size(), 0u);
}

TEST(latency_window, percentiles_interpolate_between_ranks) {
  latency_window w{100};
  // 1..100 ms in a scrambled order: the window must not depend on arrival order.
  for (int i = 0; i < 100; ++i)
    w.record(((i * 37) % 100 + 1) / 1000.0);
  EXPECT_NEAR(w.percentile(0), 0.001, 1e-12);
  EXPECT_NEAR(w.percentile(100), 0.100, 1e-12);
  // rank = p/100 * 99: p50 sits halfway between 50 and 51 ms, p99 at 99.01 ms.
  EXPECT_NEAR(w.percentile(50), 0.0505, 1e-12);
  EXPECT_NEAR(w.percentile(99), 0.09901, 1e-12);
  EXPECT_NEAR(w.mean(), 0.0505, 1e-12);
  EXPECT_NEAR(w.percentile(150), 0.100, 1e-12) << "p is clamped to [0, 100]";
}

TEST(latency_window, single_sample) {
  latency_window w{4};
  w.record(0.25);
  EXPECT_EQ(w.percentile(0), 0.25);
  EXPECT_EQ(w.percentile(99), 0.25);
}

TEST(latency_window, old_samples_leave_the_window) {
  latency_window w{3};
  for (double s : {10.0, 10.0, 10.0, 1.0, 2.0, 3.0})
    w.record(s);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(w.total(), 6u);
  EXPECT_EQ(w.percentile(100), 3.0) << "the slow warm-up samples are gone";
  EXPECT_EQ(w.percentile(50), 2.0);
  w.record(4.0);
  EXPECT_EQ(w.percentile(0), 2.0);
  w.clear();
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.total(), 0u);
}

} // namespace
