// The scheduler actor's conversation on one node, one message at a time on CAF's testing
// scheduler (no sleeps, no threads): a real node manager and directory, the scheduler spawned
// through the node manager as a topology would, with two threads and no model kind (this build
// is torch-free), so a train task is placed and then fails the way a node that cannot run it
// fails. What crosses processes (preemption of a training run, a lost node's task resumed
// elsewhere) stays in tests/nodes/scheduler_test.cpp.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../node_fixture.hpp"
#include "llmos/messages/scheduler.hpp"

namespace llmos {
namespace {

const std::string spam_spec =
    std::string{LLMOS_SOURCE_DIR} + "/nodes/examples/models/spam-bag.yaml";

class scheduler_actor_test : public test::node_fixture {
protected:
  void SetUp() override {
    node_fixture::SetUp();
    sched_actor_ = spawn_scheduler();
  }

  /// A scheduler named "sched" on the node (two threads, one attempt per task) over root_.
  scheduler_actor spawn_scheduler() {
    return spawn_kind<scheduler_actor>(
        "scheduler", "sched",
        {{"root", root_.string()}, {"node_threads", "2"}, {"max_attempts", "1"}});
  }

  static task_spec train(const std::string& name, uint32_t threads = 1) {
    task_spec t;
    t.name = name;
    t.cpu_threads = threads;
    t.detail = {{"spec", spam_spec}, {"dataset", "spam"}};
    return t;
  }

  caf::expected<uint64_t> submit(const task_spec& t) {
    return ask<uint64_t>(sched_actor_, submit_atom::value, t);
  }

  std::vector<task_status> queue() {
    auto q = ask<std::vector<task_status>>(sched_actor_, queue_atom::value);
    EXPECT_TRUE(q) << describe(q.error());
    return q ? *q : std::vector<task_status>{};
  }

  scheduler_actor sched_actor_;
};

TEST_F(scheduler_actor_test, a_train_task_is_placed_and_fails_with_the_nodes_reason) {
  auto id = submit(train("spam-run"));
  ASSERT_TRUE(id) << describe(id.error());
  auto done = ask<task_status>(sched_actor_, wait_atom::value, *id, caf::actor{});
  ASSERT_TRUE(done) << describe(done.error());
  EXPECT_EQ(done->name, "spam-run");
  EXPECT_EQ(done->state, "failed");
  EXPECT_EQ(done->attempts, 1u);
  // The node manager refused the replica: this build has no model kind.
  EXPECT_NE(done->error.find("actor kind 'model' is not known"), std::string::npos) << done->error;
  EXPECT_TRUE(done->nodes.empty()) << "an ended task holds no node";
  // A failed task's name is free again.
  EXPECT_TRUE(submit(train("spam-run")));
}

TEST_F(scheduler_actor_test, what_cannot_fit_or_is_malformed_is_refused_by_field) {
  auto big = expect_error(submit(train("too-big", 3)), error_code::bad_params);
  EXPECT_NE(big.find("asks 3 threads per replica; the largest node has 2"), std::string::npos)
      << big;
  auto bad_name = train("no spaces");
  EXPECT_NE(expect_error(submit(bad_name), error_code::bad_params).find("name"), std::string::npos);
  auto no_spec = train("no-spec");
  no_spec.detail.erase("spec");
  EXPECT_NE(expect_error(submit(no_spec), error_code::bad_params).find("spec"), std::string::npos);
  auto odd = train("odd");
  odd.detail["colour"] = "blue";
  EXPECT_NE(expect_error(submit(odd), error_code::bad_params).find("colour"), std::string::npos);
  EXPECT_TRUE(queue().empty()) << "nothing refused is in the table";
}

TEST_F(scheduler_actor_test, unknown_tasks_are_not_found_and_name_the_scheduler) {
  auto what = expect_error(ask<task_status>(sched_actor_, status_atom::value, uint64_t{42}),
                           error_code::not_found);
  EXPECT_NE(what.find("scheduler 'sched': no task 42"), std::string::npos) << what;
  expect_error(ask<task_status>(sched_actor_, cancel_atom::value, uint64_t{42}),
               error_code::not_found);
  expect_error(ask<task_status>(sched_actor_, wait_atom::value, uint64_t{42}, caf::actor{}),
               error_code::not_found);
}

TEST_F(scheduler_actor_test, an_ingest_of_a_missing_data_set_fails_naming_it) {
  task_spec t;
  t.name = "ingest-nowhere";
  t.detail = {{"kind", "ingest"}, {"dataset", "no-such-set"}};
  auto id = submit(t);
  ASSERT_TRUE(id) << describe(id.error());
  auto done = ask<task_status>(sched_actor_, wait_atom::value, *id, caf::actor{});
  ASSERT_TRUE(done) << describe(done.error());
  EXPECT_EQ(done->state, "failed");
  EXPECT_NE(done->error.find("no-such-set"), std::string::npos) << done->error;
}

TEST_F(scheduler_actor_test, a_restarted_scheduler_recovers_its_table) {
  auto first = submit(train("first"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(ask<task_status>(sched_actor_, wait_atom::value, *first, caf::actor{}));
  ASSERT_TRUE(std::filesystem::exists(root_ / "jobs.json"));
  stop_actor("sched");
  sched_actor_ = spawn_scheduler();
  auto q = queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].id, *first);
  EXPECT_EQ(q[0].name, "first");
  EXPECT_EQ(q[0].state, "failed");
  // Ids go on after the recovered ones.
  auto second = submit(train("second"));
  ASSERT_TRUE(second);
  EXPECT_GT(*second, *first);
  EXPECT_EQ(queue().front().name, "second") << "newest first";
}

} // namespace
} // namespace llmos
