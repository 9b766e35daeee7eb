// The RPC gateway's budget: connections, partial frames, calls in flight, unsent answers, and the
// per-connection rate limit (its token bucket, with made-up times), and the rate the connections
// share while the process serves HTTP requests.
#include "gateway/rpc_budget.hpp"

#include <gtest/gtest.h>

namespace llmos {
namespace {

using namespace std::chrono_literals;

TEST(rpc_budget, counts_connections_partial_frames_calls_and_unsent_answers) {
  rpc_budget b{rpc_bounds{2, 100, 2, 50, 0}};
  EXPECT_TRUE(b.open(1));
  EXPECT_TRUE(b.open(2));
  EXPECT_FALSE(b.open(3)) << "two connections at most";
  EXPECT_TRUE(b.buffer(1, 60));
  EXPECT_FALSE(b.buffer(2, 41)) << "60 + 41 bytes of partial frames pass 100";
  EXPECT_TRUE(b.buffer(2, 40));
  EXPECT_TRUE(b.buffer(1, 10)) << "connection 1's frame completed";
  EXPECT_EQ(b.buffered_bytes(), 50u);
  b.call_started(1);
  b.call_started(1);
  EXPECT_FALSE(b.may_call(1)) << "two calls in flight";
  EXPECT_TRUE(b.may_call(2));
  b.call_ended(1, 0);
  b.wrote(1, 51);
  EXPECT_FALSE(b.may_call(1)) << "51 answer bytes unsent";
  b.sent(1, 50);
  EXPECT_TRUE(b.may_call(1));
  b.close(1);
  EXPECT_EQ(b.buffered_bytes(), 40u);
  EXPECT_FALSE(b.may_call(1));
  EXPECT_TRUE(b.open(3));
}

TEST(rpc_budget, the_rate_limit_lets_a_burst_through_then_one_call_per_interval) {
  rpc_bounds bounds;
  bounds.max_calls_per_s = 1000; // bucket: max(100, max_in_flight 64) = 100 calls
  rpc_budget b{bounds};
  ASSERT_TRUE(b.open(1));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(b.rate_wait(1, t0), 0ms) << "call " << i << " is within the burst";
    b.call_started(1);
  }
  EXPECT_EQ(b.rate_wait(1, t0), 1ms) << "the bucket is empty: one call per millisecond";
  EXPECT_EQ(b.rate_wait(1, t0 + 1ms), 0ms);
  b.call_started(1);
  EXPECT_GT(b.rate_wait(1, t0 + 1ms), 0ms);
  EXPECT_EQ(b.rate_wait(1, t0 + 1s), 0ms) << "refilled, up to the bucket";
  for (int i = 0; i < 100; ++i)
    b.call_started(1);
  EXPECT_GT(b.rate_wait(1, t0 + 1s), 0ms) << "the bucket holds 100, not a second's 1000";
  EXPECT_EQ(rpc_budget{}.rate_wait(1, t0), 0ms) << "no limit by default";
}

TEST(rpc_budget, while_serving_the_connections_share_the_busy_rate_and_alone_none) {
  rpc_bounds bounds;
  bounds.busy_calls_per_s = 4000;
  rpc_budget b{bounds};
  for (uint64_t c = 1; c <= 4; ++c)
    ASSERT_TRUE(b.open(c));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(b.rate_wait(1, t0, false), 0ms) << "no HTTP request served: no limit";
    b.call_started(1);
    b.call_ended(1, 0);
  }
  EXPECT_EQ(b.rate(false), 0);
  EXPECT_EQ(b.rate(true), 1000) << "4000 calls/s shared by four connections";
  for (int i = 0; i < 100; ++i) { // a full bucket: max(1000 / 10, max_in_flight 64)
    ASSERT_EQ(b.rate_wait(1, t0, true), 0ms) << "call " << i << " is within the burst";
    b.call_started(1);
    b.call_ended(1, 0);
  }
  EXPECT_EQ(b.rate_wait(1, t0, true), 1ms) << "its share: one call per millisecond";
  EXPECT_EQ(b.rate_wait(2, t0, true), 0ms) << "another connection has its own bucket";
  EXPECT_EQ(b.rate_wait(1, t0, false), 0ms) << "serving ended: no limit";
  for (uint64_t c = 2; c <= 4; ++c)
    b.close(c);
  EXPECT_EQ(b.rate(true), 4000) << "alone, it has all of it";
  bounds.max_calls_per_s = 500;
  EXPECT_EQ(rpc_budget{bounds}.rate(true), 500) << "the fixed limit, when lower, still holds";
  EXPECT_EQ(rpc_budget{bounds}.rate(false), 500);
}

} // namespace
} // namespace llmos
