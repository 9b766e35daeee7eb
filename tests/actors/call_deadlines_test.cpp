// The RPC broker's per-call limits with made-up times: a call expires after its limit, progress
// of its connection restarts the wait, an answer after expiry is dropped, a closed connection's
// calls are forgotten.
#include "gateway/call_deadlines.hpp"

#include <gtest/gtest.h>

namespace llmos {
namespace {

using namespace std::chrono_literals;
using clock = call_deadlines::clock;

call_deadlines::call make_call(uint64_t conn, uint32_t msgid, std::chrono::milliseconds limit) {
  call_deadlines::call c;
  c.connection = conn;
  c.msgid = msgid;
  c.method = "train";
  c.limit = limit;
  return c;
}

TEST(call_deadlines, a_call_expires_after_its_limit_and_its_late_answer_is_dropped) {
  call_deadlines d;
  const auto t0 = clock::time_point{} + 1h;
  const auto slow = d.start(make_call(1, 7, 500ms), t0);
  const auto fast = d.start(make_call(1, 8, 500ms), t0);
  EXPECT_TRUE(d.expire(t0 + 499ms).empty());
  EXPECT_TRUE(d.finish(fast));
  auto gone = d.expire(t0 + 500ms);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].msgid, 7u);
  EXPECT_EQ(gone[0].method, "train");
  EXPECT_FALSE(d.finish(slow)) << "answered twice";
  EXPECT_TRUE(d.empty());
}

TEST(call_deadlines, progress_of_the_connection_restarts_the_wait_of_its_calls_only) {
  call_deadlines d;
  const auto t0 = clock::time_point{} + 1h;
  d.start(make_call(1, 1, 1000ms), t0);
  d.start(make_call(2, 2, 1000ms), t0);
  d.alive(1, t0 + 900ms); // connection 1 reported progress
  auto gone = d.expire(t0 + 1000ms);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].connection, 2u);
  EXPECT_TRUE(d.expire(t0 + 1899ms).empty());
  EXPECT_EQ(d.expire(t0 + 1900ms).size(), 1u);
}

TEST(call_deadlines, progress_never_shortens_a_wait_and_closed_connections_are_forgotten) {
  call_deadlines d;
  const auto t0 = clock::time_point{} + 1h;
  d.start(make_call(1, 1, 1000ms), t0);
  d.start(make_call(3, 2, 10ms), t0);
  d.alive(1, t0 - 5s); // a late progress report cannot bring the deadline forward
  EXPECT_TRUE(d.expire(t0 + 999ms).size() == 1u); // connection 3's call
  d.drop(1);
  EXPECT_TRUE(d.empty());
}

} // namespace
} // namespace llmos
