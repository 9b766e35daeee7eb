// The policies' orderings: FIFO, priority with aging, weighted fair share; and the factory.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "scheduler/core/fair_share_policy.hpp"
#include "scheduler/core/priority_policy.hpp"

namespace llmos::scheduler {
namespace {

std::unique_ptr<policy> make(const std::string& name, policy_options o = {}) {
  o.policy = name;
  auto p = make_policy(o);
  EXPECT_TRUE(p) << describe(p.error());
  return std::move(*p);
}

TEST(SchedulerPolicy, EveryNameMakesItsPolicyAndTyposAreAnswered) {
  for (const auto& n : policy_names())
    EXPECT_EQ(make(n)->name(), n);
  policy_options o;
  o.policy = "fair-shar";
  auto bad = make_policy(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(describe(bad.error()).find("did you mean 'fair-share'"), std::string::npos);
}

TEST(SchedulerPolicy, FifoKeepsSubmissionOrder) {
  task_request a, b, c;
  a.priority = 0;
  b.priority = 10;
  c.priority = 5;
  std::vector<queue_entry> q{{3, &c, 3.0}, {1, &a, 1.0}, {2, &b, 2.0}};
  EXPECT_EQ(make("fifo")->order(q, {}), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(make("least-loaded")->order(q, {}), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(SchedulerPolicy, PriorityOrdersByPriorityThenAge) {
  task_request lo, hi, hi2;
  lo.priority = 0;
  hi.priority = 10;
  hi2.priority = 10;
  std::vector<queue_entry> q{{1, &lo, 0.0}, {2, &hi, 5.0}, {3, &hi2, 1.0}};
  order_context ctx;
  ctx.now = 10;
  policy_options o;
  o.aging_per_s = 0.01;
  EXPECT_EQ(make("priority", o)->order(q, ctx), (std::vector<uint64_t>{3, 2, 1}));
}

TEST(SchedulerPolicy, AgingLetsAnOldLowPriorityTaskOvertakeNewcomers) {
  policy_options o;
  o.aging_per_s = 0.1; // ten points in 100 s
  priority_policy p{o};
  task_request old_low, new_high;
  old_low.priority = 0;
  new_high.priority = 10;
  std::vector<queue_entry> q{{1, &old_low, 0.0}, {2, &new_high, 0.0}};
  order_context ctx;
  ctx.now = 50;
  q[1].submitted = 50; // just arrived
  EXPECT_EQ(p.order(q, ctx).front(), 2u);
  ctx.now = 120;
  q[1].submitted = 120; // a newcomer again, but the old task has waited 120 s: 12 > 10
  EXPECT_EQ(p.order(q, ctx).front(), 1u);
  o.aging_per_s = 0; // without aging it would wait for ever
  EXPECT_EQ(priority_policy{o}.order(q, ctx).front(), 2u);
}

TEST(SchedulerPolicy, FairShareServesTheOwnerFurthestBelowItsWeight) {
  policy_options o;
  o.weights = {{"a", 1.0}, {"b", 3.0}};
  fair_share_policy p{o};
  std::vector<task_request> reqs(8);
  std::vector<queue_entry> q;
  for (uint64_t i = 0; i < 8; ++i) {
    reqs[i].owner = i < 4 ? "a" : "b"; // a submitted first
    reqs[i].per_replica.cpu_threads = 1;
    q.push_back({i + 1, &reqs[i], static_cast<double>(i)});
  }
  order_context ctx;
  ctx.cpu_total = 8;
  std::map<std::string, double> held{{"a", 0.0}, {"b", 0.0}};
  ctx.owner_share = &held;
  auto ids = p.order(q, ctx);
  // Of the first four picks, b (weight 3) gets three and a one.
  int b = 0;
  for (int i = 0; i < 4; ++i)
    b += ids[i] > 4 ? 1 : 0;
  EXPECT_EQ(b, 3);
  // What an owner already holds counts: a holding half the cluster goes last.
  held["a"] = 0.5;
  ids = p.order(q, ctx);
  for (int i = 0; i < 4; ++i)
    EXPECT_GT(ids[i], 4u) << i;
}

} // namespace
} // namespace llmos::scheduler
