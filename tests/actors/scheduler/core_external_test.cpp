// What models the scheduler did not place hold: measured from a node's actor listing, and
// counted by the cluster view like the scheduler's own replicas.
#include <gtest/gtest.h>

#include "scheduler/core/cluster_state.hpp"
#include "scheduler/core/external_load.hpp"

namespace llmos::scheduler {
namespace {

const std::vector<device_facts> devices{{"cpu0", false, 4}, {"gpu0", true, 0}, {"gpu1", true, 0}};

bool none(const std::string&) {
  return false;
}

TEST(SchedulerExternal, ModelsOnOwnDevicesHoldTheirThreads) {
  std::vector<hosted_actor> actors{{"m", "model", {{"threads", "2"}}},
                                   {"m-server.v1.r1", "model", {}}, // the kind's default, 1
                                   {"data", "dataset", {{"threads", "8"}}},
                                   {"cpu0", "device", {{"threads", "4"}}}};
  auto load = measure_external(actors, devices, none);
  EXPECT_EQ(load.cpu_threads, 3u);
  EXPECT_TRUE(load.gpu_holders.empty());
}

TEST(SchedulerExternal, ModelsOnADeviceHoldItOnceAndTheSchedulersOwnAreLeftOut) {
  std::vector<hosted_actor> actors{{"a", "model", {{"device", "cpu0"}, {"threads", "9"}}},
                                   {"b", "model", {{"device", "cpu0"}}},
                                   {"c", "model", {{"device", "gpu1"}}},
                                   {"d", "model", {{"device", "gpu1"}}},
                                   {"e", "model", {{"device", "elsewhere"}}},
                                   {"task-7", "model", {{"threads", "4"}}}};
  auto load = measure_external(actors, devices, [](const std::string& n) { return n == "task-7"; });
  EXPECT_EQ(load.cpu_threads, 4u); // cpu0's threads, once
  EXPECT_EQ(load.gpu_holders, (std::map<std::string, uint32_t>{{"gpu1", 2}}));
}

TEST(SchedulerExternal, ThreadsThatAreNotANumberCountAsOne) {
  std::vector<hosted_actor> actors{{"a", "model", {{"threads", "lots"}}},
                                   {"b", "model", {{"threads", "99999"}}},
                                   {"c", "model", {{"threads", "3x"}}}};
  EXPECT_EQ(measure_external(actors, devices, none).cpu_threads, 3u);
}

TEST(SchedulerExternal, TheClusterViewCountsThemAndFreesThemAgain) {
  cluster_state c;
  c.add_node({"n0", true, 4, 0, {gpu_slot{16000, 0, 0, "gpu0", 0}}});
  auto own = c.take(0, {1, 0, 0});
  ASSERT_TRUE(own);
  c.set_external(0, 2, {1});
  EXPECT_EQ(c.cpu_used(), 3u);
  EXPECT_EQ(c.gpu_used(), 1u);
  EXPECT_FALSE(c.fits(0, {2, 0, 0}));
  EXPECT_TRUE(c.fits(0, {1, 0, 0}));
  EXPECT_FALSE(c.fits(0, {1, 1, 0}));   // the GPU is held by an external model
  EXPECT_TRUE(c.fits(0, {1, 1, 6000})); // ... whose memory is not known: a share still fits
  c.set_external(0, 8, {0});            // over-full: nothing fits, nothing underflows
  EXPECT_FALSE(c.fits(0, {1, 0, 0}));
  EXPECT_TRUE(c.open_nodes().empty());
  EXPECT_EQ(c.gpu_used(), 0u);
  c.release(*own, {1, 0, 0});
  c.set_external(0, 0, {});
  EXPECT_EQ(c.cpu_used(), 0u);
  EXPECT_TRUE(c.fits(0, {4, 1, 0}));
  EXPECT_EQ(c.max_free_threads(), 4u);
}

} // namespace
} // namespace llmos::scheduler
