// A submitted task checked field by field before the scheduler accepts it, and a record shown.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "scheduler/task_form.hpp"

namespace llmos {
namespace {

const std::string spec_path =
    std::string{LLMOS_SOURCE_DIR} + "/nodes/examples/models/spam-bag.yaml";

task_spec valid() {
  task_spec s;
  s.name = "train-spam";
  s.owner = "research";
  s.priority = 5;
  s.cpu_threads = 2;
  s.detail = {{"spec", spec_path}, {"dataset", "spam"}, {"set.lr", "0.01"}};
  return s;
}

std::string refusal(const task_spec& s) {
  auto r = to_task_request(s);
  EXPECT_FALSE(r);
  return r ? "" : describe(r.error());
}

/// One mistake made in a valid task, and what the refusal must say.
struct mistake {
  std::function<void(task_spec&)> make;
  std::vector<std::string> words; ///< each in the refusal
};

/// `base` with each mistake made in it is refused with the mistake's words.
void expect_refusals(const task_spec& base, const std::vector<mistake>& mistakes) {
  for (std::size_t i = 0; i < mistakes.size(); ++i) {
    auto s = base;
    mistakes[i].make(s);
    const auto got = refusal(s);
    for (const auto& word : mistakes[i].words)
      EXPECT_NE(got.find(word), std::string::npos) << "mistake " << i << ": " << got;
  }
}

TEST(TaskForm, AValidTaskBecomesARequest) {
  auto r = to_task_request(valid());
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->name, "train-spam");
  EXPECT_EQ(r->owner, "research");
  EXPECT_EQ(r->priority, 5);
  EXPECT_EQ(r->per_replica.cpu_threads, 2u);
  EXPECT_EQ(r->detail.at("kind"), "train");
  EXPECT_EQ(spec_overrides(r->detail), (std::map<std::string, std::string>{{"lr", "0.01"}}));
  auto anon = valid();
  anon.owner = "";
  EXPECT_EQ(to_task_request(anon)->owner, "default");
}

TEST(TaskForm, RefusalsNameTheTaskAndTheField) {
  expect_refusals(
      valid(),
      {{[](task_spec& s) { s.name = "has space"; }, {"task 'has space': name"}},
       {[](task_spec& s) { s.detail["kind"] = "evaluate"; },
        {"kind: 'evaluate' is not a task kind this scheduler runs (train, ingest)"}},
       {[](task_spec& s) { s.detail.erase("spec"); }, {"spec: a model spec file is required"}},
       {[](task_spec& s) { s.detail["spec"] = "/no/such/spec.yaml"; }, {"/no/such/spec.yaml"}},
       {[](task_spec& s) { s.detail["set.no_such_field"] = "1"; },
        {"task 'train-spam': set:", "no_such_field"}},
       {[](task_spec& s) { s.detail.erase("dataset"); }, {"dataset: the data set actor"}},
       {[](task_spec& s) { s.detail["chekpoint"] = "x"; }, {"chekpoint: unknown detail key"}},
       {[](task_spec& s) { s.detail["fine_tune"] = "full"; },
        {"fine_tune: fine-tunes the weights named by init=CHECKPOINT"}},
       {[](task_spec& s) { s.replicas = 0; }, {"replicas: must be from 1 to 64"}}});
}

TEST(TaskForm, AnIngestNamesItsDataSetRunsOnceAndIsNeverPreempted) {
  task_spec s;
  s.name = "ingest-spam";
  s.detail = {{"kind", "ingest"}, {"dataset", "spam"}};
  auto r = to_task_request(s);
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->detail.at("kind"), "ingest");
  EXPECT_FALSE(r->preemptible);
  EXPECT_EQ(r->replicas, 1u);
  expect_refusals(s, {{[](task_spec& t) { t.detail.erase("dataset"); },
                       {"dataset: the data set actor to ingest"}},
                      {[](task_spec& t) { t.detail["spec"] = spec_path; },
                       {"spec: unknown detail key of an ingest task"}},
                      {[](task_spec& t) { t.replicas = 2; }, {"replicas=1"}}});
}

TEST(TaskForm, StatusShowsWhereAndWhatHappened) {
  scheduler::cluster_state cluster;
  cluster.add_node({"alpha", true, 4, 0, {}});
  cluster.add_node({"beta", true, 4, 0, {}});
  scheduler::task_record t;
  t.id = 7;
  t.req = *to_task_request(valid());
  t.req.detail["result"] = R"({"steps":10})";
  t.state = scheduler::task_state::running;
  t.submitted = 1;
  t.started = 3;
  t.preemptions = 1;
  t.where = {{1, {}}};
  auto s = to_task_status(t, cluster, 10, "train 5/10");
  EXPECT_EQ(s.id, 7u);
  EXPECT_EQ(s.state, "running");
  EXPECT_EQ(s.nodes, std::vector<std::string>{"beta"});
  EXPECT_DOUBLE_EQ(s.waited_s, 2);
  EXPECT_DOUBLE_EQ(s.ran_s, 7);
  EXPECT_EQ(s.preemptions, 1u);
  EXPECT_EQ(s.progress, "train 5/10");
  EXPECT_EQ(s.result, R"({"steps":10})");
  EXPECT_EQ(s.detail.count("result"), 0u);
}

} // namespace
} // namespace llmos
