// The scheduler state machine: preemption and resume, cancel, retries with back-off, node loss
// with gangs, refusals, and the job table's round trip through a file.
#include <filesystem>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "scheduler/core/job_table.hpp"
#include "scheduler/core/scheduler_core.hpp"

namespace llmos::scheduler {
namespace {

scheduler_core make_core(std::size_t nodes, uint32_t threads, policy_options o = {}) {
  cluster_state c;
  for (std::size_t i = 0; i < nodes; ++i)
    c.add_node({"n" + std::to_string(i), true, threads, 0, {}});
  auto core = scheduler_core::make(o, std::move(c));
  EXPECT_TRUE(core);
  return std::move(*core);
}

task_request ask(const std::string& name, int priority, uint32_t threads, uint32_t replicas = 1) {
  task_request r;
  r.name = name;
  r.owner = "o";
  r.priority = priority;
  r.replicas = replicas;
  r.per_replica.cpu_threads = threads;
  return r;
}

std::vector<uint64_t> started(const std::vector<decision>& ds) {
  std::vector<uint64_t> out;
  for (const auto& d : ds)
    if (d.what == decision::kind::start)
      out.push_back(d.task);
  return out;
}

TEST(SchedulerCore, AQueuedTaskSaysWhyItWaits) {
  auto core = make_core(2, 2);
  external_load servers;
  servers.cpu_threads = 2;
  ASSERT_TRUE(core.set_external(0, servers)); // n0's threads held by server replicas
  auto first = core.submit(ask("first", 0, 2), 0);
  auto second = core.submit(ask("second", 0, 2), 0);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(started(core.schedule(1)), std::vector<uint64_t>{*first});
  EXPECT_FALSE(core.task(*first)->waiting);
  ASSERT_TRUE(core.task(*second)->waiting);
  EXPECT_EQ(*core.task(*second)->waiting,
            "needs 1 replica(s) of 2 thread(s); n0: 0 of 2 threads free (2 held by models it did "
            "not place); n1: 0 of 2 threads free");
  ASSERT_TRUE(core.set_external(0, external_load{}));
  EXPECT_EQ(started(core.schedule(2)), std::vector<uint64_t>{*second});
  EXPECT_FALSE(core.task(*second)->waiting) << "running: nothing to wait for";
}

TEST(SchedulerCore, RefusesWhatCanNeverFit) {
  auto core = make_core(2, 8);
  auto big = core.submit(ask("huge", 0, 9), 0);
  ASSERT_FALSE(big);
  EXPECT_NE(describe(big.error()).find("task 'huge': asks 9 threads"), std::string::npos);
  EXPECT_FALSE(core.submit(ask("none", 0, 1, 0), 0));
  auto gpu = ask("gpu", 0, 1);
  gpu.per_replica.gpus = 1;
  EXPECT_FALSE(core.submit(gpu, 0));
}

// The queue is bounded: what clients submit cannot grow it without end. Running tasks do not
// count, so a full queue frees up as tasks start.
TEST(SchedulerCore, RefusesSubmissionsBeyondMaxPending) {
  policy_options o;
  o.max_pending = 2;
  auto core = make_core(1, 4, o);
  ASSERT_TRUE(core.submit(ask("a", 0, 4), 0));
  ASSERT_TRUE(core.submit(ask("b", 0, 4), 0));
  auto c = core.submit(ask("c", 0, 4), 0);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), static_cast<uint8_t>(error_code::overloaded));
  EXPECT_NE(describe(c.error()).find("2 tasks are already waiting"), std::string::npos);
  EXPECT_EQ(started(core.schedule(1)).size(), 1u); // a runs; one waits
  EXPECT_TRUE(core.submit(ask("c", 0, 4), 2));
}

TEST(SchedulerCore, HigherPriorityPreemptsAndTheVictimResumesLater) {
  auto core = make_core(1, 4);
  auto low = *core.submit(ask("low", 0, 4), 0);
  EXPECT_EQ(started(core.schedule(0)), (std::vector<uint64_t>{low}));
  auto high = *core.submit(ask("high", 10, 4), 1);
  auto ds = core.schedule(1);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].what, decision::kind::preempt);
  EXPECT_EQ(ds[0].task, low);
  EXPECT_EQ(core.task(high)->state, task_state::starting);
  EXPECT_TRUE(started(core.schedule(2)).empty()); // the victim has not stopped yet
  core.stopped(low, 3);                           // checkpointed and stopped
  EXPECT_EQ(core.task(low)->state, task_state::queued);
  EXPECT_EQ(core.task(low)->preemptions, 1u);
  EXPECT_EQ(started(core.schedule(3)), (std::vector<uint64_t>{high}));
  core.finished(high, 10);
  EXPECT_EQ(started(core.schedule(10)), (std::vector<uint64_t>{low})); // resumes
}

TEST(SchedulerCore, NoPreemptionWithinTheMarginOrOfUnpreemptibleTasks) {
  policy_options o;
  o.preempt_margin = 5;
  auto core = make_core(1, 4, o);
  auto a = *core.submit(ask("a", 0, 2), 0);
  auto keep = ask("keep", 0, 2);
  keep.preemptible = false;
  auto b = *core.submit(keep, 0);
  EXPECT_EQ(started(core.schedule(0)).size(), 2u);
  core.submit(ask("near", 4, 2), 1); // 4 < 0 + 5: not enough above
  EXPECT_TRUE(core.schedule(1).empty());
  core.submit(ask("far", 9, 2), 2);
  auto ds = core.schedule(2);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].task, a); // never the unpreemptible one
  (void)b;
}

TEST(SchedulerCore, PreemptsNoMoreThanNeeded) {
  auto core = make_core(2, 4);
  auto a = *core.submit(ask("a", 0, 4), 0);
  auto b = *core.submit(ask("b", 1, 4), 0);
  core.schedule(0);
  core.submit(ask("high", 10, 4), 1);
  auto ds = core.schedule(1);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].task, a); // the lowest priority only
  EXPECT_EQ(core.task(b)->state, task_state::running);
}

TEST(SchedulerCore, CancelStopsRunningAndDropsQueued) {
  auto core = make_core(1, 2);
  auto a = *core.submit(ask("a", 0, 2), 0);
  auto b = *core.submit(ask("b", 0, 2), 0);
  core.schedule(0);
  auto stop = core.cancel(a, 1);
  ASSERT_TRUE(stop);
  ASSERT_TRUE(*stop);
  EXPECT_EQ((*stop)->what, decision::kind::stop);
  auto none = core.cancel(b, 1);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_EQ(core.task(b)->state, task_state::cancelled);
  core.stopped(a, 2);
  EXPECT_EQ(core.task(a)->state, task_state::cancelled);
  EXPECT_FALSE(core.cancel(a, 3)); // already ended
  EXPECT_FALSE(core.cancel(99, 3));
}

TEST(SchedulerCore, FailuresRetryWithBackoffThenFail) {
  policy_options o;
  o.retry_base_s = 2;
  o.max_attempts = 3;
  auto core = make_core(1, 1, o);
  auto a = *core.submit(ask("flaky", 0, 1), 0);
  core.schedule(0);
  core.failed(a, 1, "boom");
  EXPECT_EQ(core.task(a)->state, task_state::queued);
  EXPECT_TRUE(started(core.schedule(2)).empty()); // waits until 1 + 2
  EXPECT_EQ(started(core.schedule(3)), (std::vector<uint64_t>{a}));
  core.failed(a, 4, "boom");
  EXPECT_TRUE(started(core.schedule(7)).empty()); // 4 + 4
  EXPECT_EQ(started(core.schedule(8)).size(), 1u);
  core.failed(a, 9, "boom again");
  EXPECT_EQ(core.task(a)->state, task_state::failed);
  EXPECT_EQ(core.task(a)->error, "boom again");
  EXPECT_EQ(core.cluster().cpu_used(), 0u);
}

TEST(SchedulerCore, NodeLossRequeuesItsTasksAndStopsTheRestOfTheGang) {
  auto core = make_core(3, 2);
  auto gang = *core.submit(ask("gang", 0, 2, 2), 0);
  auto solo = *core.submit(ask("solo", 0, 2), 0);
  core.schedule(0);
  const auto* g = core.task(gang);
  ASSERT_EQ(g->where.size(), 2u);
  const auto lost = g->where[1].node;
  auto ds = core.node_lost(lost, 5);
  ASSERT_EQ(ds.size(), 1u); // the gang (its replica on the surviving node is stopped)
  EXPECT_EQ(ds[0].task, gang);
  EXPECT_EQ(core.task(gang)->state, task_state::queued);
  EXPECT_EQ(core.task(gang)->reschedules, 1u);
  EXPECT_EQ(core.task(gang)->attempts, 0u); // not the task's fault
  // Two nodes left, one busy with solo: the gang cannot start until the node is back.
  EXPECT_TRUE(started(core.schedule(6)).empty());
  core.node_back(lost);
  EXPECT_EQ(started(core.schedule(7)), (std::vector<uint64_t>{gang}));
  (void)solo;
}

TEST(SchedulerCore, JobTableSurvivesARestart) {
  auto dir = std::filesystem::temp_directory_path() / ("llmos-jobs-" + std::to_string(::getpid()));
  auto path = dir / "jobs.json";
  auto core = make_core(1, 2);
  auto req = ask("train", 3, 1);
  req.detail = {{"kind", "train"}, {"spec", "x.yaml"}};
  auto a = *core.submit(req, 0);
  auto b = *core.submit(ask("later", 0, 2), 1);
  core.schedule(1);
  ASSERT_TRUE(write_job_table(path, job_table_text(core.tasks())));
  auto loaded = load_job_table(path);
  ASSERT_TRUE(loaded) << describe(loaded.error());
  auto again = make_core(1, 2);
  for (auto& r : *loaded)
    again.restore(std::move(r));
  ASSERT_TRUE(again.task(a));
  EXPECT_EQ(again.task(a)->state, task_state::queued); // was running: runs again
  EXPECT_EQ(again.task(a)->req.detail.at("spec"), "x.yaml");
  EXPECT_EQ(again.task(a)->req.priority, 3);
  EXPECT_EQ(again.task(b)->state, task_state::queued);
  auto c = *again.submit(ask("new", 0, 1), 2);
  EXPECT_GT(c, b); // ids are never reused
  EXPECT_EQ(started(again.schedule(2)).front(), a);
  // A damaged table is refused by name, not emptied.
  std::filesystem::resize_file(path, 40);
  auto bad = load_job_table(path);
  ASSERT_FALSE(bad);
  EXPECT_NE(describe(bad.error()).find(path.string()), std::string::npos);
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace llmos::scheduler
