// The tuner's conversation with a real scheduler on one node, one message at a time
// (node_fixture.hpp): a study's trials become scheduler tasks (named after the study, owned by
// it, with the trial's parameters as spec overrides), a study none of whose trials reports its
// metric fails and says why, and unknown studies or bad files are
// refused by name. This build is torch-free (no model kind), so every trial fails on its node;
// a study that trains and publishes is tested across processes in tests/nodes/scheduler_test.cpp.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../node_fixture.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/tuner.hpp"

namespace llmos {
namespace {

using nlohmann::json;

class tuner_actor_test : public test::node_fixture {
protected:
  void SetUp() override {
    node_fixture::SetUp();
    sched_ = spawn_kind<scheduler_actor>(
        "scheduler", "sched",
        {{"root", (root_ / "sched").string()}, {"node_threads", "2"}, {"max_attempts", "1"}});
    tuner_ = spawn_kind<tuner_actor>(
        "tuner", "tuner",
        {{"scheduler", "sched"}, {"registry", ""}, {"root", (root_ / "studies").string()}});
  }

  /// A random search of three trials, two at a time, over lr and hidden_dim of the spam bag.
  std::string write_study() {
    const auto file = root_ / "study.yaml";
    std::ofstream{file} << "study: lr-search\nmodel: " << LLMOS_SOURCE_DIR
                        << "/nodes/examples/models/spam-bag.yaml\n"
                           "dataset: spam\nalgorithm: random\nmetric: accuracy\nmode: max\n"
                           "trials: 3\nmax_resource: 40\nparallel: 2\nseed: 5\n"
                           "space:\n  lr: {type: log_uniform, low: 0.001, high: 0.1}\n"
                           "  hidden_dim: {type: choice, values: [16, 32]}\n";
    return file.string();
  }

  scheduler_actor sched_;
  tuner_actor tuner_;
};

TEST_F(tuner_actor_test, trials_run_as_scheduler_tasks_and_failed_ones_leave_no_best) {
  auto started = ask<study_status>(tuner_, study_atom::value, write_study());
  ASSERT_TRUE(started) << describe(started.error());
  EXPECT_EQ(started->name, "lr-search");
  EXPECT_EQ(started->algorithm, "random");
  auto done = ask<study_status>(tuner_, wait_atom::value, std::string{"lr-search"});
  ASSERT_TRUE(done) << describe(done.error());
  // No trial reported its metric: the study failed and says why.
  EXPECT_EQ(done->state, "failed");
  EXPECT_NE(done->error.find("no trial reported accuracy; the last failure: trial 3 failed: "),
            std::string::npos)
      << done->error;
  EXPECT_NE(done->error.find("actor kind 'model' is not known"), std::string::npos) << done->error;
  // Started again on the same file, the failed study answers its failure rather than "done".
  auto again = ask<study_status>(tuner_, study_atom::value, write_study());
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(again->state, "failed");
  EXPECT_EQ(again->error, done->error);
  EXPECT_EQ(done->trials_started, 3u);
  EXPECT_EQ(done->best_trial, -1) << "no trial reported a value";
  EXPECT_TRUE(done->published.empty());
  // Each trial was a task of the scheduler: named after the study, owned by it, with its own
  // parameters as overrides and the resource as its steps.
  auto queue = ask<std::vector<task_status>>(sched_, queue_atom::value);
  ASSERT_TRUE(queue) << describe(queue.error());
  ASSERT_EQ(queue->size(), 3u);
  for (const auto& t : *queue) {
    EXPECT_EQ(t.name.rfind("lr-search-t", 0), 0u) << t.name;
    EXPECT_EQ(t.owner, "tuner:lr-search");
    EXPECT_EQ(t.state, "failed");
    EXPECT_EQ(t.detail.at("set.max_steps"), "40");
    EXPECT_TRUE(t.detail.count("set.lr") && t.detail.count("set.hidden_dim")) << t.name;
  }
  EXPECT_NE(queue->at(0).detail.at("set.lr"), queue->at(1).detail.at("set.lr"))
      << "each trial draws its own parameters";
}

TEST_F(tuner_actor_test, unknown_studies_and_bad_files_are_refused_by_name) {
  auto missing = expect_error(ask<study_status>(tuner_, status_atom::value, std::string{"nope"}),
                              error_code::not_found);
  EXPECT_NE(missing.find("tuner 'tuner': no study 'nope'"), std::string::npos) << missing;
  expect_error(ask<study_status>(tuner_, wait_atom::value, std::string{"nope"}),
               error_code::not_found);
  expect_error(ask<study_status>(tuner_, stop_atom::value, std::string{"nope"}),
               error_code::not_found);
  const auto bad = root_ / "bad.yaml";
  std::ofstream{bad} << "study: s\nmodel: m.yaml\ndataset: d\nalgorithm: guesswork\n";
  auto refused = ask<study_status>(tuner_, study_atom::value, bad.string());
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("algorithm"), std::string::npos)
      << describe(refused.error());
  auto none = ask<std::vector<study_status>>(tuner_, list_atom::value);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty()) << "a refused study is not started";
}

} // namespace
} // namespace llmos
