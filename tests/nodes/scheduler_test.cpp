// The scheduler and tuner in real node processes: a high-priority task preempts a running
// training run, which checkpoints, waits and resumes where it stopped; a scheduler actor that is
// stopped and started again recovers its job table; a node that dies mid-run has its task
// rescheduled on another node, resumed from the last checkpoint; and a small ASHA study on real
// data (fortunes) runs its trials through the scheduler and publishes the best model.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "llmos/messages/error.hpp"
#include "model/train/engine.hpp"
#include "quotes_node.hpp"
#include "solo_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

json send(uint16_t port, const std::string& actor, const std::string& method, json opts = {}) {
  return llmos::test::rpc_send(
      port, json::array({actor, method, opts.is_null() ? json::object() : opts}));
}

/// A builtin gateway method (spawn, stop) with positional params.
json call(uint16_t port, const std::string& method, const json& params) {
  return llmos::test::rpc_call(port, method, params, 60s);
}

json status(uint16_t port, uint64_t id) {
  return send(port, "sched", "status", {{"id", id}});
}

/// Steps trained so far from a status's progress line ("train 120/600 ...").
int progress_step(const json& s) {
  auto p = s.value("progress", std::string{});
  auto sp = p.find(' ');
  return sp == std::string::npos ? 0 : std::atoi(p.c_str() + sp + 1);
}

/// Samples the last run trained: fewer than a whole run's when it resumed from a checkpoint.
double run_samples(const json& s) {
  const auto& r = s.value("result", json::object());
  return r.value("seconds", 0.0) * r.value("samples_per_second", 0.0);
}

TEST(scheduler, preemption_resumes_and_a_restarted_scheduler_recovers_its_table) {
  quotes_node q{"sched_preempt", "sp", "{root: sched, policy: priority}"};
  ASSERT_TRUE(q.ingested());
  const auto& dir = q.dir;
  const uint16_t rpc = q.node.rpc;
  auto log = [&] { return q.node.log(); };

  const auto topic = (dir / "topic.yaml").string();
  // A long run on both of the node's threads, to be preempted (low) or to lose its scheduler
  // (again) once it is 500 steps in.
  auto submit_long = [&](const std::string& name) {
    return send(rpc, "sched", "submit",
                {{"name", name},
                 {"spec", topic},
                 {"dataset", "quotes"},
                 {"threads", "2"},
                 {"max_steps", "4000"},
                 {"eval_every", "250"}});
  };
  auto reaches_step_500 = [&](uint64_t id) {
    return wait_until([&] { return progress_step(status(rpc, id)) >= 500; }, 60s, 50ms);
  };
  auto low = submit_long("low");
  ASSERT_TRUE(low.contains("id")) << low.dump() << log();
  const uint64_t low_id = low["id"];
  ASSERT_TRUE(reaches_step_500(low_id)) << status(rpc, low_id).dump() << log();

  // The cluster has two threads and both are low's: high can only run if low makes room.
  auto high = send(rpc, "sched", "submit",
                   {{"name", "high"},
                    {"spec", topic},
                    {"dataset", "quotes"},
                    {"threads", "2"},
                    {"priority", "10"},
                    {"max_steps", "40"}});
  ASSERT_TRUE(high.contains("id")) << high.dump();
  const uint64_t high_id = high["id"];
  auto h = send(rpc, "sched", "wait", {{"id", high_id}});
  ASSERT_EQ(h.value("state", ""), "done") << h.dump() << log();
  auto l = status(rpc, low_id);
  EXPECT_EQ(l.value("preemptions", 0), 1) << l.dump();
  // Its checkpoint holds the step where it stopped, not only the last evaluation's.
  auto ckpt = dir / "sched" / "tasks" / std::to_string(low_id) / "rank0.pt";
  auto saved = llmos::model::engine::load(ckpt.string());
  ASSERT_TRUE(saved) << ckpt;
  const auto stopped_at = (*saved)->step();
  EXPECT_GE(stopped_at, 500);
  EXPECT_LT(stopped_at, 4000);

  auto done = send(rpc, "sched", "wait", {{"id", low_id}});
  ASSERT_EQ(done.value("state", ""), "done") << done.dump() << log();
  EXPECT_EQ(done["result"].value("steps", 0), 4000);
  // The resumed run trained only what was left (samples of its own run, batch 64).
  EXPECT_LT(run_samples(done), (4000.0 - static_cast<double>(stopped_at) + 100) * 64)
      << done.dump();

  // A scheduler stopped mid-run and started again finds its table and finishes the task.
  auto again = submit_long("again");
  ASSERT_TRUE(again.contains("id")) << again.dump();
  const uint64_t again_id = again["id"];
  ASSERT_TRUE(reaches_step_500(again_id));
  ASSERT_FALSE(call(rpc, "stop", json::array({"sched"})).contains("error"));
  auto spawned = call(
      rpc, "spawn",
      json::array({"a", "scheduler", {{"name", "sched"}, {"root", (dir / "sched").string()}}}));
  ASSERT_FALSE(spawned.contains("error")) << spawned.dump();
  json recovered;
  ASSERT_TRUE(wait_until(
      [&] {
        recovered = status(rpc, again_id);
        return !recovered.contains("error");
      },
      20s, 200ms))
      << recovered.dump() << log();
  EXPECT_EQ(recovered.value("name", ""), "again");
  auto finished = send(rpc, "sched", "wait", {{"id", again_id}});
  ASSERT_EQ(finished.value("state", ""), "done") << finished.dump() << log();
  EXPECT_EQ(finished.value("reschedules", 0), 1);
  EXPECT_EQ(finished["result"].value("steps", 0), 4000);
  EXPECT_LT(run_samples(finished), 3760.0 * 64); // resumed from step 250 or later
  // The queue lists the table, newest first.
  auto queue = send(rpc, "sched", "queue");
  ASSERT_TRUE(queue.is_array()) << queue.dump();
  ASSERT_GE(queue.size(), 3u);
  EXPECT_EQ(queue[0].value("name", ""), "again");
  // Bad input is refused by field, and nothing already accepted is lost.
  auto bad = send(rpc, "sched", "submit",
                  {{"name", "x"}, {"spec", topic}, {"dataset", "quotes"}, {"no_such_field", "1"}});
  ASSERT_TRUE(bad.contains("error"));
  EXPECT_NE(bad.dump().find("task 'x': set"), std::string::npos) << bad.dump();
  auto huge = send(rpc, "sched", "submit",
                   {{"name", "huge"}, {"spec", topic}, {"dataset", "quotes"}, {"threads", "3"}});
  EXPECT_NE(huge.dump().find("asks 3 threads per replica; the largest node has 2"),
            std::string::npos)
      << huge.dump();
  EXPECT_EQ(send(rpc, "sched", "queue").size(), queue.size());
  // A fine-tune of saved weights is submitted by a client too (init, fine_tune): these are gone.
  auto tune = send(rpc, "sched", "submit",
                   {{"name", "tune"},
                    {"spec", topic},
                    {"dataset", "quotes"},
                    {"init", (dir / "gone.pt").string()},
                    {"fine_tune", "full"},
                    {"max_steps", "20"}});
  ASSERT_TRUE(tune.contains("id")) << tune.dump();
  const uint64_t tune_id = tune["id"];
  auto tuned = send(rpc, "sched", "wait", {{"id", tune_id}});
  EXPECT_EQ(tuned.value("state", ""), "failed") << tuned.dump();
  EXPECT_NE(tuned.value("error", "").find("gone.pt"), std::string::npos) << tuned.dump();
}

TEST(scheduler, models_it_did_not_place_hold_their_threads_until_they_stop) {
  quotes_node q{"sched_external", "se", "{root: sched}"};
  ASSERT_TRUE(q.ingested());
  const auto& dir = q.dir;
  const uint16_t rpc = q.node.rpc;
  auto log = [&] { return q.node.log(); };
  const auto topic = (dir / "topic.yaml").string();

  // A model spawned by hand on a device of its own with both of the node's threads.
  auto held =
      call(rpc, "spawn",
           json::array({"a", "model", {{"name", "holder"}, {"spec", topic}, {"threads", "2"}}}));
  ASSERT_FALSE(held.contains("error")) << held.dump();
  ASSERT_TRUE(wait_until(
      [&] { return log().find("models it did not place hold 2 thread(s)") != std::string::npos; },
      10s, 100ms))
      << log();
  auto task =
      send(rpc, "sched", "submit",
           {{"name", "waits"}, {"spec", topic}, {"dataset", "quotes"}, {"max_steps", "40"}});
  ASSERT_TRUE(task.contains("id")) << task.dump();
  const uint64_t id = task["id"];
  // Three ticks: the task stays queued, the node is full.
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    auto s = status(rpc, id);
    ASSERT_EQ(s.value("state", ""), "queued") << s.dump() << log();
    std::this_thread::sleep_for(200ms);
  }
  // ... and its status says why.
  auto waiting = status(rpc, id);
  EXPECT_NE(waiting.value("waiting", "")
                .find("0 of 2 threads free (2 held by models it did not "
                      "place)"),
            std::string::npos)
      << waiting.dump();
  ASSERT_FALSE(call(rpc, "stop", json::array({"holder"})).contains("error"));
  auto done = send(rpc, "sched", "wait", {{"id", id}});
  EXPECT_EQ(done.value("state", ""), "done") << done.dump() << log();
  EXPECT_NE(log().find("models it did not place hold 0 thread(s)"), std::string::npos) << log();
}

/// The ingest tasks in the scheduler's table named `name` that are done.
std::vector<json> done_ingests(uint16_t rpc, const std::string& name) {
  std::vector<json> out;
  auto queue = send(rpc, "sched", "queue");
  if (queue.is_array())
    for (const auto& t : queue)
      if (t.value("name", "") == name && t.value("state", "") == "done")
        out.push_back(t);
  return out;
}

TEST(scheduler, a_data_set_ingests_on_its_schedule_as_tasks_of_the_scheduler) {
  temp_dir dir{"sched_ingest"};
  std::string lines;
  for (int i = 0; i < 30; ++i)
    lines += "{\"text\": \"note " + std::to_string(i) + " on the state of the garden\"}\n";
  write_file(dir / "notes.jsonl", lines);
  write_file(dir / "notes.yaml", "dataset: notes\nroot: store\nincremental: true\n"
                                 "schedule: {every: 2s, scheduler: sched, priority: 3}\n"
                                 "sources:\n  - {name: feed, kind: jsonl, path: notes.jsonl}\n"
                                 "clean:\n  - rule: exact_dedupe\n"
                                 "split: {train: 0.8, validation: 0.1, test: 0.1, seed: 1}\n"
                                 "tokenizer: {kind: byte}\n");
  const std::string actors =
      "      - {name: notes, kind: dataset, config: {pipeline: notes.yaml}}\n"
      "      - {name: sched, kind: scheduler, config: {root: sched}}\n";
  solo_node a{dir, "si", llmos::test::free_ports(2), 1, actors};
  const uint16_t rpc = a.rpc;
  auto log = [&] { return a.log(); };
  ASSERT_TRUE(a.up());

  // The first round: the scheduler runs task ingest-notes, and the data set has a version.
  ASSERT_TRUE(wait_until([&] { return !done_ingests(rpc, "ingest-notes").empty(); }, 20s, 200ms))
      << send(rpc, "sched", "queue").dump() << log();
  const auto first = send(rpc, "notes", "stats");
  ASSERT_EQ(first.value("records", 0), 30) << first.dump();
  // A listing leaves results out: a task's status shows its whole report.
  const auto task = status(rpc, done_ingests(rpc, "ingest-notes")[0].value("id", uint64_t{0}));
  ASSERT_TRUE(task["result"].is_object()) << task.dump();
  EXPECT_EQ(task["result"].value("version", ""), first.value("version", ""));

  // New lines arrive: a later round reads them and extends the version.
  std::ofstream{dir / "notes.jsonl", std::ios::app}
      << "{\"text\": \"a new note on the rain\"}\n{\"text\": \"another on the wind\"}\n";
  ASSERT_TRUE(
      wait_until([&] { return send(rpc, "notes", "stats").value("records", 0) == 32; }, 20s, 200ms))
      << send(rpc, "notes", "stats").dump() << log();
  EXPECT_NE(log().find("scheduled ingest submitted as task"), std::string::npos) << log();

  // The same kind of task submitted by hand.
  auto by_hand =
      send(rpc, "sched", "submit", {{"name", "by-hand"}, {"kind", "ingest"}, {"dataset", "notes"}});
  ASSERT_TRUE(by_hand.contains("id")) << by_hand.dump();
  auto done = send(rpc, "sched", "wait", {{"id", by_hand["id"]}});
  EXPECT_EQ(done.value("state", ""), "done") << done.dump() << log();
  ASSERT_TRUE(done["result"].is_object()) << done.dump();
  EXPECT_EQ(done["result"].value("version", ""), send(rpc, "notes", "stats").value("version", ""));
  auto missing = send(rpc, "sched", "submit",
                      {{"name", "nowhere"}, {"kind", "ingest"}, {"dataset", "no-such-set"}});
  ASSERT_TRUE(missing.contains("id")) << missing.dump();
  auto failed = send(rpc, "sched", "wait", {{"id", missing["id"]}});
  EXPECT_EQ(failed.value("state", ""), "failed") << failed.dump();
}

/// Submits `task` to "sched", again and again (20 s) until it is accepted: the scheduler learns
/// the nodes' devices as they register, and refuses what it cannot place until then. The last
/// answer.
json submit_once_placeable(uint16_t rpc, const json& task) {
  json answer;
  wait_until(
      [&] {
        answer = send(rpc, "sched", "submit", task);
        return answer.contains("id");
      },
      20s, 250ms);
  return answer;
}

TEST(scheduler, a_lost_nodes_task_resumes_on_another_node) {
  temp_dir dir{"sched_nodeloss"};
  write_quotes(dir.path());
  const auto ports = llmos::test::free_ports(6);
  const std::string actors =
      "      - {name: quotes, kind: dataset, config: {pipeline: quotes.yaml}}\n"
      "      - {name: sched, kind: scheduler, config: {root: sched, policy: least-loaded}}\n";
  write_file(dir / "topology.yaml", "cluster: nl\n" + llmos::test::fast_heartbeat + "nodes:\n" +
                                        node_entry("a", ports[0], ports[1], 0, actors) +
                                        node_entry("b", ports[2], ports[3], 1, "") +
                                        node_entry("c", ports[4], ports[5], 1, ""));
  std::map<std::string, child_process> nodes;
  for (const auto* n : {"a", "b", "c"})
    nodes[n] = start_node(dir / "topology.yaml", n);
  const uint16_t rpc = ports[1];
  auto logs = [&] {
    std::string out;
    for (const auto* n : {"a", "b", "c"})
      out +=
          std::string{"--- "} + n + "\n" + llmos::test::read_file(dir / (std::string{n} + ".log"));
    return out;
  };
  ASSERT_TRUE(wait_until([&] { return llmos::test::rpc_ping(rpc); }, 15s, 100ms)) << logs();
  auto ingested = send(rpc, "quotes", "ingest");
  ASSERT_FALSE(ingested.contains("error")) << ingested.dump();
  // A data-parallel gang of two replicas, one on each of b and c, meets at rank 0's rendezvous
  // and trains to the end.
  auto pair = submit_once_placeable(rpc, {{"name", "pair"},
                                          {"spec", (dir / "topic.yaml").string()},
                                          {"dataset", "quotes"},
                                          {"replicas", "2"},
                                          {"max_steps", "60"}});
  ASSERT_TRUE(pair.contains("id")) << pair.dump() << logs();
  json pair_running;
  ASSERT_TRUE(wait_until(
      [&] {
        pair_running = send(rpc, "sched", "status", {{"name", "pair"}});
        return pair_running["nodes"].size() == 2 || pair_running.value("state", "") == "done";
      },
      30s, 20ms))
      << pair_running.dump();
  auto pair_done = send(rpc, "sched", "wait", {{"name", "pair"}});
  ASSERT_EQ(pair_done.value("state", ""), "done") << pair_done.dump() << logs();
  EXPECT_EQ(pair_done["result"].value("steps", 0), 60);
  if (pair_running["nodes"].size() == 2) {
    EXPECT_NE(pair_running["nodes"][0], pair_running["nodes"][1]);
  }

  auto task = submit_once_placeable(rpc, {{"name", "survivor"},
                                          {"spec", (dir / "topic.yaml").string()},
                                          {"dataset", "quotes"},
                                          {"max_steps", "4000"},
                                          {"eval_every", "250"}});
  ASSERT_TRUE(task.contains("id")) << task.dump() << logs();
  const uint64_t id = task["id"];
  // Meanwhile a gang: three replicas of one thread each cannot run on the one free node, so
  // none of them starts (all or nothing) until it is cancelled.
  auto gang = send(rpc, "sched", "submit",
                   {{"name", "gang3"},
                    {"spec", (dir / "topic.yaml").string()},
                    {"dataset", "quotes"},
                    {"replicas", "3"},
                    {"max_steps", "50"}});
  ASSERT_TRUE(gang.contains("id")) << gang.dump();
  std::this_thread::sleep_for(1500ms);
  auto waiting = send(rpc, "sched", "status", {{"name", "gang3"}});
  EXPECT_EQ(waiting.value("state", ""), "queued") << waiting.dump();
  EXPECT_TRUE(waiting["nodes"].empty());
  auto cancelled = send(rpc, "sched", "cancel", {{"name", "gang3"}});
  EXPECT_EQ(cancelled.value("state", ""), "cancelled") << cancelled.dump();
  json s;
  ASSERT_TRUE(wait_until(
      [&] {
        s = status(rpc, id);
        return progress_step(s) >= 600;
      },
      90s, 50ms))
      << s.dump() << logs();
  ASSERT_EQ(s["nodes"].size(), 1u);
  const std::string first = s["nodes"][0];
  ASSERT_TRUE(first == "b" || first == "c") << s.dump();
  nodes[first].stop(SIGKILL);
  auto done = send(rpc, "sched", "wait", {{"id", id}});
  ASSERT_EQ(done.value("state", ""), "done") << done.dump() << logs();
  EXPECT_EQ(done.value("reschedules", 0), 1) << done.dump();
  ASSERT_EQ(done["nodes"].size(), 0u); // ended: holds nothing
  EXPECT_EQ(done["result"].value("steps", 0), 4000);
  // Resumed from the checkpoint of step 500 (or later), not from the start.
  EXPECT_LT(run_samples(done), 3510.0 * 64) << done.dump();
}

TEST(tuner, an_asha_study_runs_through_the_scheduler_and_publishes_the_best) {
  quotes_node q{"tuner_study", "tu", "{root: sched}",
                "      - {name: registry, kind: registry, config: {root: registry}}\n"
                "      - {name: tuner, kind: tuner, config: {scheduler: sched, root: studies}}\n"};
  ASSERT_TRUE(q.ingested());
  const auto& dir = q.dir;
  const uint16_t rpc = q.node.rpc;
  auto log = [&] { return q.node.log(); };
  // The tuner reads the study's file when the study is started, after the node is up.
  write_file(dir / "study.yaml",
             "study: topic-search\nmodel: " + (dir / "topic.yaml").string() +
                 "\ndataset: quotes\nalgorithm: asha\nmetric: accuracy\nmode: max\n"
                 "trials: 9\nmin_resource: 20\nmax_resource: 180\nreduction: 3\nparallel: 2\n"
                 "seed: 3\noverrides: {eval_every: 0}\n"
                 "space:\n  lr: {type: log_uniform, low: 0.0003, high: 0.05}\n"
                 "  hidden_dim: {type: choice, values: [32, 64]}\n");
  json started;
  ASSERT_TRUE(wait_until(
      [&] {
        started = send(rpc, "tuner", "study", {{"file", (dir / "study.yaml").string()}});
        return !started.contains("error");
      },
      20s, 250ms))
      << started.dump() << log();
  auto done = send(rpc, "tuner", "wait", {{"study", "topic-search"}});
  ASSERT_EQ(done.value("state", ""), "done") << done.dump() << log();
  EXPECT_EQ(done.value("trials_started", 0), 9);
  ASSERT_TRUE(done.contains("best_trial")) << done.dump() << log();
  EXPECT_GT(done.value("best_value", 0.0), 0.2); // chance on the quotes topics is lower
  // ASHA trains 9 trials for 20 steps, 3 of them to 60 and 1 to 180: far below 9 x 180.
  EXPECT_LT(done.value("compute_used", 0.0), 0.4 * 9 * 180) << done.dump();
  ASSERT_EQ(done.value("published", ""), "sched-topic v1") << done.dump() << log();
  auto versions = send(rpc, "registry", "versions", {{"model", "sched-topic"}});
  ASSERT_TRUE(versions.is_array()) << versions.dump();
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_NE(versions[0].dump().find("topic-search"), std::string::npos) << versions.dump();
  // A second start of the same study answers its finished state rather than running it again.
  auto status = send(rpc, "tuner", "status", {{"study", "topic-search"}});
  EXPECT_EQ(status.value("state", ""), "done");
  auto missing = send(rpc, "tuner", "status", {{"study", "nope"}});
  EXPECT_NE(missing.dump().find("no study 'nope'"), std::string::npos);
}

} // namespace
