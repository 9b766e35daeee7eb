// A submitted task checked field by field before the scheduler accepts it, and a record shown.
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
  auto s = valid();
  s.name = "has space";
  EXPECT_NE(refusal(s).find("task 'has space': name"), std::string::npos);
  s = valid();
  s.detail["kind"] = "evaluate";
  EXPECT_NE(refusal(s).find("kind: 'evaluate' is not a task kind this scheduler runs (train, "
                            "ingest)"),
            std::string::npos);
  s = valid();
  s.detail.erase("spec");
  EXPECT_NE(refusal(s).find("spec: a model spec file is required"), std::string::npos);
  s = valid();
  s.detail["spec"] = "/no/such/spec.yaml";
  EXPECT_NE(refusal(s).find("/no/such/spec.yaml"), std::string::npos);
  s = valid();
  s.detail["set.no_such_field"] = "1";
  EXPECT_NE(refusal(s).find("task 'train-spam': set:"), std::string::npos);
  EXPECT_NE(refusal(s).find("no_such_field"), std::string::npos);
  s = valid();
  s.detail.erase("dataset");
  EXPECT_NE(refusal(s).find("dataset: the data set actor"), std::string::npos);
  s = valid();
  s.detail["chekpoint"] = "x";
  EXPECT_NE(refusal(s).find("chekpoint: unknown detail key"), std::string::npos);
  s = valid();
  s.replicas = 0;
  EXPECT_NE(refusal(s).find("replicas: must be from 1 to 64"), std::string::npos);
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
  auto bad = s;
  bad.detail.erase("dataset");
  EXPECT_NE(refusal(bad).find("dataset: the data set actor to ingest"), std::string::npos);
  bad = s;
  bad.detail["spec"] = spec_path;
  EXPECT_NE(refusal(bad).find("spec: unknown detail key of an ingest task"), std::string::npos);
  bad = s;
  bad.replicas = 2;
  EXPECT_NE(refusal(bad).find("replicas=1"), std::string::npos);
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
