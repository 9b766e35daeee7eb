// Replica routing against made-up outstanding counts: least outstanding picks the least loaded,
// power of two prefers idle replicas, draining and removal take replicas out of routing.
#include <map>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "serving/core/router.hpp"

namespace {

using llmos::serving::parse_routing_policy;
using llmos::serving::replica_router;
using llmos::serving::routing_policy;

TEST(router, no_replica_no_pick) {
  replica_router r;
  EXPECT_FALSE(r.pick());
  const auto a = r.add();
  EXPECT_EQ(r.pick(), a);
  r.drain(a);
  EXPECT_FALSE(r.pick()) << "a draining replica gets no new work";
}

TEST(router, least_outstanding_picks_the_least_loaded) {
  replica_router r{routing_policy::least_outstanding};
  const auto a = r.add(), b = r.add(), c = r.add();
  r.sent(a, 5);
  r.sent(b, 2);
  r.sent(c, 7);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(r.pick(), b);
  r.sent(b, 4); // b now 6
  EXPECT_EQ(r.pick(), a);
  r.done(c, 7); // c now 0
  EXPECT_EQ(r.pick(), c);
}

TEST(router, least_outstanding_spreads_load_evenly) {
  replica_router r{routing_policy::least_outstanding};
  const auto a = r.add(), b = r.add(), c = r.add();
  // Each request stays outstanding: the counts must end up equal.
  for (int i = 0; i < 30; ++i)
    r.sent(*r.pick(), 1);
  EXPECT_EQ(r.outstanding(a), 10u);
  EXPECT_EQ(r.outstanding(b), 10u);
  EXPECT_EQ(r.outstanding(c), 10u);
}

TEST(router, least_outstanding_rotates_ties) {
  // Picks made before any sent() is reported still spread over equally loaded replicas.
  replica_router r{routing_policy::least_outstanding};
  r.add();
  r.add();
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 10; ++i)
    ++counts[*r.pick()];
  EXPECT_EQ(counts[0], 5);
  EXPECT_EQ(counts[1], 5);
}

TEST(router, power_of_two_prefers_idle_replicas) {
  replica_router r{routing_policy::power_of_two, 42};
  std::vector<std::size_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(r.add());
  // Replica 0 is idle, the others busy: it wins every draw that includes it, which is half of
  // all draws of two distinct of four (3 of 6 pairs); the busy ones share the rest.
  r.sent(ids[1], 10);
  r.sent(ids[2], 10);
  r.sent(ids[3], 10);
  std::map<std::size_t, int> counts;
  const int draws = 4000;
  for (int i = 0; i < draws; ++i)
    ++counts[*r.pick()];
  EXPECT_NEAR(counts[ids[0]], draws / 2, draws / 20);
  for (int k = 1; k < 4; ++k)
    EXPECT_NEAR(counts[ids[k]], draws / 6, draws / 20) << "replica " << k;
}

TEST(router, power_of_two_is_repeatable_and_never_picks_inactive) {
  replica_router first{routing_policy::power_of_two, 7}, second{routing_policy::power_of_two, 7};
  for (int i = 0; i < 5; ++i) {
    first.add();
    second.add();
  }
  first.drain(1);
  second.drain(1);
  first.remove(3);
  second.remove(3);
  for (int i = 0; i < 200; ++i) {
    const auto p = first.pick();
    ASSERT_TRUE(p);
    EXPECT_EQ(p, second.pick());
    EXPECT_NE(*p, 1u);
    EXPECT_NE(*p, 3u);
    first.sent(*p);
    second.sent(*p);
  }
}

TEST(router, drain_then_idle) {
  replica_router r;
  const auto a = r.add(), b = r.add();
  r.sent(a, 2);
  r.drain(a);
  EXPECT_EQ(r.active(), (std::vector<std::size_t>{b}));
  EXPECT_FALSE(r.idle(a)) << "in-flight requests of a draining replica still count";
  r.done(a, 1);
  EXPECT_FALSE(r.idle(a));
  r.done(a, 1);
  EXPECT_TRUE(r.idle(a));
  r.done(a, 3); // a late duplicate reply does not wrap the count
  EXPECT_EQ(r.outstanding(a), 0u);
}

TEST(router, remove_forgets_and_ids_are_not_reused) {
  replica_router r;
  const auto a = r.add();
  r.sent(a, 3);
  r.remove(a);
  EXPECT_EQ(r.outstanding(a), 0u);
  EXPECT_TRUE(r.active().empty());
  const auto b = r.add();
  EXPECT_NE(a, b);
  r.done(a, 1); // ignored: a is gone
  r.sent(a, 1);
  EXPECT_EQ(r.outstanding(b), 0u);
  EXPECT_EQ(r.pick(), b);
}

TEST(router, policy_names_round_trip_and_typos_get_a_suggestion) {
  for (auto p : {routing_policy::least_outstanding, routing_policy::power_of_two}) {
    auto parsed = parse_routing_policy(to_string(p));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, p);
  }
  auto bad = parse_routing_policy("power_of_tow");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
  EXPECT_NE(llmos::describe(bad.error()).find("did you mean 'power_of_two'?"), std::string::npos)
      << llmos::describe(bad.error());
}

} // namespace
