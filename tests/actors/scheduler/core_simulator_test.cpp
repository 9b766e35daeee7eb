// The real policies on simulated clusters too large for this machine: determinism, fair shares,
// aging against starvation, whole gangs, node loss, and the policies' trade-offs on one trace.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "scheduler/core/simulator.hpp"

namespace llmos::scheduler {
namespace {

sim_result run(const std::vector<sim_job>& trace, const sim_cluster_spec& c, policy_options o,
               sim_options s = {}) {
  auto r = simulate(trace, c, o, s);
  EXPECT_TRUE(r) << describe(r.error());
  return r ? *r : sim_result{};
}

/// `nodes` CPU-only nodes of `cpu_per_node` threads.
sim_cluster_spec cpu_cluster(std::size_t nodes, uint32_t cpu_per_node) {
  sim_cluster_spec c;
  c.nodes = nodes;
  c.cpu_per_node = cpu_per_node;
  c.gpu_node_every = 0;
  return c;
}

/// `count` jobs of `threads` threads each, `work_s` long, of `owner(i)`, arriving every
/// `every_s` from 0.
template <class Owner>
std::vector<sim_job> cpu_jobs(int count, double every_s, double work_s, uint32_t threads,
                              Owner owner) {
  std::vector<sim_job> trace;
  for (int i = 0; i < count; ++i) {
    sim_job j;
    j.arrival = i * every_s;
    j.work_s = work_s;
    j.per_replica.cpu_threads = threads;
    j.owner = owner(i);
    trace.push_back(j);
  }
  return trace;
}

policy_options named(const std::string& p) {
  policy_options o;
  o.policy = p;
  return o;
}

TEST(SchedulerSimulator, SameTraceSameResult) {
  sim_cluster_spec c;
  c.nodes = 200;
  auto trace = synthetic_trace(2000, c, 0.9, 7);
  auto a = run(trace, c, named("priority"));
  auto b = run(trace, c, named("priority"));
  EXPECT_EQ(a.finished, 2000u);
  EXPECT_DOUBLE_EQ(a.mean_jct_s, b.mean_jct_s);
  EXPECT_EQ(a.preemptions, b.preemptions);
}

TEST(SchedulerSimulator, FairShareSplitsABusyClusterByWeight) {
  // Two owners each submitting far more than the cluster holds, all at once.
  const auto c = cpu_cluster(50, 8);
  const auto trace = cpu_jobs(4000, 0, 100, 2, [](int i) { return i % 2 ? "heavy" : "light"; });
  sim_options s;
  s.share_window_s = 1000; // both owners still have work queued throughout
  auto o = named("fair-share");
  o.weights = {{"light", 1}, {"heavy", 3}};
  auto r = run(trace, c, o, s);
  ASSERT_EQ(r.finished, trace.size());
  const double ratio = r.owner_thread_seconds["heavy"] / r.owner_thread_seconds["light"];
  EXPECT_NEAR(ratio, 3.0, 0.3);
  // FIFO ignores weights: alternating submissions share the cluster evenly.
  auto fifo = run(trace, c, named("fifo"), s);
  EXPECT_NEAR(fifo.owner_thread_seconds["heavy"] / fifo.owner_thread_seconds["light"], 1.0, 0.1);
}

TEST(SchedulerSimulator, AgingEndsStarvationOfALowPriorityTask) {
  const auto c = cpu_cluster(4, 4);
  // A stream of high-priority work that asks 2.5 times what the cluster holds for 1,200 s.
  auto trace = cpu_jobs(600, 2.0, 40, 2, [](int) { return "high"; });
  for (auto& j : trace)
    j.priority = 10;
  sim_job low; // arrives when the cluster is full and a backlog has formed
  low.arrival = 101;
  low.work_s = 10;
  low.per_replica.cpu_threads = 4;
  low.owner = "low";
  trace.push_back(low);
  auto o = named("priority");
  o.preemption = false;
  o.aging_per_s = 0; // no aging: the low task waits until the whole stream is done
  auto starve = run(trace, c, o);
  o.aging_per_s = 0.1; // ten points (the gap) after 100 s of waiting
  auto aged = run(trace, c, o);
  ASSERT_EQ(starve.finished, trace.size());
  ASSERT_EQ(aged.finished, trace.size());
  EXPECT_GT(starve.max_wait_by_owner["low"], 2500);
  EXPECT_LT(aged.max_wait_by_owner["low"], 1200);
}

TEST(SchedulerSimulator, GangsStartWholeUnderOverload) {
  sim_cluster_spec c;
  c.nodes = 200;
  // Run times cut at an hour, so the busy period is not one long job's tail.
  auto trace = synthetic_trace(5000, c, 1.2, 3, 3600); // gangs of up to 8 must wait for room
  auto r = run(trace, c, named("least-loaded"));
  EXPECT_TRUE(r.gangs_whole);
  EXPECT_EQ(r.finished, trace.size());
  EXPECT_GT(r.cpu_utilisation, 0.4); // GPUs, not threads, bound this trace
  EXPECT_LE(r.cpu_utilisation, 1.0);
}

TEST(SchedulerSimulator, ALostNodesJobsFinishElsewhere) {
  sim_cluster_spec c;
  c.nodes = 20;
  c.gpu_node_every = 0;
  auto trace = synthetic_trace(500, c, 0.8, 11);
  sim_options s;
  s.fail_node_at = 600;
  auto r = run(trace, c, named("round-robin"), s);
  EXPECT_GT(r.reschedules, 0u);
  EXPECT_EQ(r.finished, trace.size());
}

TEST(SchedulerSimulator, PriorityShortensHighPriorityCompletionTimes) {
  sim_cluster_spec c;
  c.nodes = 100;
  auto trace = synthetic_trace(3000, c, 1.1, 5);
  auto fifo = run(trace, c, named("fifo"));
  auto prio = run(trace, c, named("priority"));
  ASSERT_EQ(prio.finished, trace.size());
  EXPECT_LT(prio.mean_jct_by_priority["10"], fifo.mean_jct_by_priority["10"]);
  EXPECT_GT(prio.preemptions, 0u);
}

} // namespace
} // namespace llmos::scheduler
