// Placement: the cluster view's accounting, the three node walks, and gang all-or-nothing.
#include <gtest/gtest.h>

#include "scheduler/core/gang_placement.hpp"

namespace llmos::scheduler {
namespace {

cluster_state cluster_of(std::size_t nodes, uint32_t threads, std::size_t gpus = 0,
                         uint64_t mb = 16000) {
  cluster_state c;
  for (std::size_t i = 0; i < nodes; ++i)
    c.add_node({"n" + std::to_string(i), true, threads, 0,
                std::vector<gpu_slot>(gpus, {mb, 0, 0, "", 0})});
  return c;
}

task_request ask(uint32_t replicas, uint32_t threads, uint32_t gpus = 0, uint64_t mb = 0) {
  task_request r;
  r.replicas = replicas;
  r.per_replica = {threads, gpus, mb};
  return r;
}

TEST(SchedulerPlacement, TakeAndReleaseKeepTheBooks) {
  auto c = cluster_of(2, 8, 2);
  auto slot = c.take(1, {6, 1, 0});
  ASSERT_TRUE(slot);
  EXPECT_EQ(c.cpu_used(), 6u);
  EXPECT_EQ(c.gpu_used(), 1u);
  EXPECT_FALSE(c.fits(1, {3, 0, 0}));
  EXPECT_TRUE(c.fits(1, {2, 1, 0}));
  EXPECT_FALSE(c.fits(1, {2, 2, 0})); // one GPU is held whole
  c.release(*slot, {6, 1, 0});
  EXPECT_EQ(c.cpu_used(), 0u);
  EXPECT_EQ(c.gpu_used(), 0u);
  EXPECT_TRUE(c.fits(1, {8, 2, 0}));
}

TEST(SchedulerPlacement, GpuMemorySharesAGpuAndBestFitKeepsWholeOnesFree) {
  auto c = cluster_of(1, 16, 2, 16000);
  auto a = c.take(0, {1, 1, 6000});
  ASSERT_TRUE(a);
  auto b = c.take(0, {1, 1, 6000}); // best fit: the GPU already in use, which still has room
  ASSERT_TRUE(b);
  EXPECT_EQ(a->gpus, b->gpus);
  EXPECT_TRUE(c.fits(0, {1, 1, 0})); // the other GPU is still whole
  EXPECT_FALSE(c.fits(0, {1, 2, 6000}));
}

TEST(SchedulerPlacement, DownNodesGetNothing) {
  auto c = cluster_of(2, 4);
  c.set_up(0, false);
  auto where = place_gang(ask(1, 1), c, node_order::first_fit);
  ASSERT_TRUE(where);
  EXPECT_EQ((*where)[0].node, 1u);
}

TEST(SchedulerPlacement, FirstFitFillsTheFirstNode) {
  auto c = cluster_of(3, 4);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ((*place_gang(ask(1, 1), c, node_order::first_fit))[0].node, 0u);
  EXPECT_EQ((*place_gang(ask(1, 1), c, node_order::first_fit))[0].node, 1u);
}

TEST(SchedulerPlacement, RoundRobinDealsNodesInTurn) {
  auto c = cluster_of(3, 4);
  std::vector<std::size_t> got;
  for (int i = 0; i < 6; ++i)
    got.push_back((*place_gang(ask(1, 1), c, node_order::round_robin))[0].node);
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(SchedulerPlacement, LeastLoadedPicksTheIdlestNode) {
  auto c = cluster_of(3, 8);
  c.take(0, {6, 0, 0});
  c.take(1, {2, 0, 0});
  EXPECT_EQ((*place_gang(ask(1, 1), c, node_order::least_loaded))[0].node, 2u);
  c.take(2, {7, 0, 0});
  EXPECT_EQ((*place_gang(ask(1, 1), c, node_order::least_loaded))[0].node, 1u);
}

TEST(SchedulerPlacement, GangIsAllOrNothing) {
  auto c = cluster_of(3, 4);
  c.take(2, {3, 0, 0});
  // Three replicas of 4 threads: only two nodes have 4 free. Nothing may be taken.
  EXPECT_FALSE(place_gang(ask(3, 4), c, node_order::least_loaded));
  EXPECT_EQ(c.cpu_used(), 3u);
  EXPECT_TRUE(c.fits(0, {4, 0, 0}));
  EXPECT_TRUE(c.fits(1, {4, 0, 0}));
  // Two replicas fit, one per node.
  auto where = place_gang(ask(2, 4), c, node_order::least_loaded);
  ASSERT_TRUE(where);
  ASSERT_EQ(where->size(), 2u);
  EXPECT_NE((*where)[0].node, (*where)[1].node);
  EXPECT_EQ(c.cpu_used(), 11u);
}

TEST(SchedulerPlacement, ReplicasMayShareANodeThatHasRoom) {
  auto c = cluster_of(1, 8);
  auto where = place_gang(ask(4, 2), c, node_order::first_fit);
  ASSERT_TRUE(where);
  EXPECT_EQ(where->size(), 4u);
  EXPECT_EQ(c.cpu_used(), 8u);
  EXPECT_TRUE(c.open_nodes().empty());
}

} // namespace
} // namespace llmos::scheduler
