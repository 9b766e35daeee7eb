// Serving end to end in a real node process: a dataset, a classifier and a small GPT train; the
// test publishes them to the registry through the gateway (as the REPL would), servers follow
// the `production` alias, and every HTTP route is exercised with a real HTTP client: predictions,
// each error status, admin auth, batching under load, an alias move under load with zero failed
// requests, OpenAI-style completions with SSE streaming, metrics, feedback, alerts raised and
// cleared, and the dashboard rendered by headless Chromium.
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "serving_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// Ingests the words, publishes `versions` versions of m and has m-server serve v1.
testing::AssertionResult serve_v1_of(const serving_node& n, uint32_t versions) {
  if (!wait_until([&] { return llmos::test::rpc_ping(n.rpc); }, 20s, 100ms))
    return testing::AssertionFailure() << "the node does not answer: " << n.log();
  auto ingested = n.send(json::array({"words", "ingest", json::object()}));
  if (ingested.contains("error"))
    return testing::AssertionFailure() << ingested.dump();
  for (uint32_t v = 1; v <= versions; ++v)
    if (train_and_publish(n, "m-trainer") != v)
      return testing::AssertionFailure() << "publishing v" << v;
  auto moved = n.send(json::array(
      {"registry", "alias", {{"model", "m"}, {"alias", "production"}, {"version", "1"}}}));
  if (moved.contains("error"))
    return testing::AssertionFailure() << moved.dump();
  if (!wait_until(
          [&] {
            return n.send(json::array({"m-server", "status", json::object()}))
                       .value("version", 0) == 1;
          },
          30s, 200ms))
    return testing::AssertionFailure() << "m-server does not serve v1: " << n.log();
  return testing::AssertionSuccess();
}

TEST(serving, a_canary_takes_its_share_and_rolls_back_without_a_failed_request) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 2));

  // Refused: the deployed version as its own canary, a share of 1 or more.
  auto same = n.send(json::array({"m-server", "canary", {{"version", "1"}, {"share", "0.5"}}}));
  EXPECT_EQ(same.value("/error/code"_json_pointer, std::string{}), "bad_params") << same.dump();
  auto all = n.send(json::array({"m-server", "canary", {{"version", "2"}, {"share", "1"}}}));
  EXPECT_EQ(all.value("/error/code"_json_pointer, std::string{}), "bad_params") << all.dump();

  auto started = n.send(json::array({"m-server", "canary", {{"version", "2"}, {"share", "0.25"}}}));
  ASSERT_EQ(started.value("canary_version", 0), 2) << started.dump() << n.log();
  EXPECT_EQ(started.value("version", 0), 1);
  // Every fourth request that names no version goes to the canary; ids are unique.
  std::map<uint32_t, int> by_version;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "river garden"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    ++by_version[r.value("version", 0u)];
    ids.insert(r.value("request_id", std::string{}));
  }
  EXPECT_EQ(by_version[1], 150);
  EXPECT_EQ(by_version[2], 50);
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(ids.count(""), 0u);

  // Rolled back: the canary's replica drains; everything is v1 again, nothing fails.
  auto ended = n.send(json::array({"m-server", "canary", {{"share", "0"}}}));
  EXPECT_EQ(ended.value("canary_version", -1), 0) << ended.dump();
  for (int i = 0; i < 20; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "engine"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    EXPECT_EQ(r.value("version", 0), 1);
  }
  auto status = n.send(json::array({"m-server", "status", json::object()}));
  EXPECT_EQ(status.value("failed", -1), 0) << status.dump();
  EXPECT_EQ(status.value("replicas", 0), 2) << status.dump();

  // Promotions are alias moves, one after another: the server follows every one of them (it
  // once followed the first move only and stayed pinned after it).
  for (const char* v : {"2", "1", "2"}) {
    auto to = n.send(json::array(
        {"registry", "alias", {{"model", "m"}, {"alias", "production"}, {"version", v}}}));
    ASSERT_FALSE(to.contains("error")) << to.dump();
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = n.send(json::array({"m-server", "status", json::object()}));
          return s.value("version", 0) == std::stoi(v) && s.value("follows", "") == "production";
        },
        30s, 200ms))
        << "production -> v" << v << ": "
        << n.send(json::array({"m-server", "status", json::object()})).dump();
  }
}

/// The replicas of `server` that `actors` lists (model actors named SERVER.vV.rN).
std::set<std::string> replicas_of(const serving_node& n, const std::string& server) {
  std::set<std::string> out;
  auto listed = llmos::test::rpc_call(n.rpc, "actors", json::array());
  for (const auto& e : listed.is_array() ? listed : json::array())
    if (e.value("kind", "") == "model" && e.value("name", "").rfind(server + ".v", 0) == 0)
      out.insert(e.value("name", ""));
  return out;
}

TEST(serving, replicas_are_model_actors_the_node_places_and_a_lost_one_is_replaced) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 1));
  // Spawned through the node manager like any model: listed, addressable by name.
  ASSERT_TRUE(wait_until([&] { return replicas_of(n, "m-server").size() == 2; }, 10s, 100ms));
  const auto first = replicas_of(n, "m-server");
  EXPECT_EQ(first, (std::set<std::string>{"m-server.v1.r1", "m-server.v1.r2"}));
  auto info = n.send(json::array({"m-server.v1.r1", "info", json::object()}));
  EXPECT_FALSE(info.contains("error")) << info.dump();

  // Stopping one: the server places another, and serves on throughout.
  auto stopped = llmos::test::rpc_call(n.rpc, "stop", json::array({"m-server.v1.r1"}));
  EXPECT_EQ(stopped, true) << stopped.dump();
  ASSERT_TRUE(wait_until(
      [&] {
        return replicas_of(n, "m-server") ==
                   std::set<std::string>{"m-server.v1.r2", "m-server.v1.r3"} &&
               n.send(json::array({"m-server", "status", json::object()})).value("replicas", 0) ==
                   2;
      },
      30s, 200ms))
      << n.send(json::array({"m-server", "status", json::object()})).dump() << n.log();
  for (int i = 0; i < 10; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "river garden"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  // Unloaded: its replicas leave the listing.
  auto unloaded = n.send(json::array({"m-server", "unload", json::object()}));
  EXPECT_FALSE(unloaded.contains("error")) << unloaded.dump();
  EXPECT_TRUE(wait_until([&] { return replicas_of(n, "m-server").empty(); }, 10s, 100ms));
}

TEST(serving, a_data_set_is_labelled_by_people_and_the_deployed_classifier_from_the_repl) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 1));
  // New texts of the same words, without labels: the word decides the truth.
  std::string fresh;
  for (int i = 0; i < 24; ++i)
    fresh += json{{"text", std::string{i % 2 == 0 ? "quiet garden river" : "silver market engine"} +
                               " " + std::to_string(1000 + i)}}
                 .dump() +
             "\n";
  write_file(n.dir / "fresh.jsonl", fresh);
  write_file(n.dir / "fresh.yaml", "dataset: fresh\nroot: store\n"
                                   "sources:\n  - {name: r, kind: jsonl, path: fresh.jsonl}\n"
                                   "split: {train: 1.0, validation: 0.0, test: 0.0}\n"
                                   "tokenizer: {kind: byte, max_length: 32}\n");
  auto spawned = llmos::test::rpc_call(
      n.rpc, "spawn",
      json::array(
          {"a", "dataset", {{"name", "fresh"}, {"pipeline", (n.dir / "fresh.yaml").string()}}}));
  ASSERT_FALSE(spawned.contains("error")) << spawned.dump() << n.log();
  // Over HTTP as a labelling page would: the queue, a label, and refusals.
  httplib::Client web{"127.0.0.1", n.http};
  web.set_read_timeout(60, 0);
  auto early = web.Get("/v1/datasets/fresh/review?model=m-server&n=3");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 400) << "no version yet: " << early->body;
  EXPECT_EQ(web.Get("/v1/datasets/nothing/review?model=m-server")->status, 404);
  EXPECT_EQ(web.Get("/v1/datasets/fresh/review?model=m-server&n=x")->status, 400);
  EXPECT_EQ(web.Post("/v1/datasets/fresh/labels", R"({"labels": [{"id": 1}]})", "application/json")
                ->status,
            400);
  // People first: the records the classifier is least sure of, one of them labelled by hand.
  auto review =
      llmos::test::run_repl(n.rpc, {"send fresh ingest", "send fresh review model=m-server n=5"});
  ASSERT_EQ(review.lines.size(), 2u) << review.err;
  const auto queue = review.line(1);
  ASSERT_TRUE(queue.is_array() && queue.size() == 5) << queue.dump() << n.log();
  for (std::size_t i = 1; i < queue.size(); ++i)
    EXPECT_LE(queue[i - 1]["confidence"], queue[i]["confidence"]) << queue.dump();
  const std::string by_hand = queue[0]["id"];
  auto over_http = web.Get("/v1/datasets/fresh/review?model=m-server&n=3");
  ASSERT_TRUE(over_http);
  ASSERT_EQ(over_http->status, 200) << over_http->body;
  auto items = json::parse(over_http->body)["items"];
  ASSERT_EQ(items.size(), 3u) << over_http->body;
  EXPECT_EQ(items[0]["id"], by_hand);
  const std::string second = items[1]["id"];
  auto posted =
      web.Post("/v1/datasets/fresh/labels",
               json{{"labels", {{{"id", second}, {"label", "a"}}}}}.dump(), "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(json::parse(posted->body)["labels"]["a"], 1) << posted->body;
  auto repl = llmos::test::run_repl(n.rpc, {"send fresh label id=" + by_hand + " label=b",
                                            "send fresh pseudo_label model=m-server threshold=0.5",
                                            "send fresh pseudo_label model=no-such-server",
                                            "send fresh sample n=100"});
  ASSERT_EQ(repl.lines.size(), 4u) << repl.err;
  ASSERT_FALSE(repl.line(0).contains("error")) << repl.line(0).dump();
  auto labelled = repl.line(1);
  ASSERT_FALSE(labelled.contains("error")) << labelled.dump() << n.log();
  EXPECT_NE(labelled["version"], repl.line(0)["version"]);
  auto report = labelled["report"]["pseudo_labels"]; // an object over RPC
  EXPECT_EQ(report["model"], "m-server");
  EXPECT_EQ(report["applied"], 22) << report.dump(); // two labels: the top one is >= 0.5
  EXPECT_FALSE(repl.error_code(2).empty()) << repl.line(2).dump();
  int right = 0;
  for (const auto& r : repl.line(3)) {
    if (r["id"] == by_hand || r["id"] == second) {
      EXPECT_EQ(r["label"], r["id"] == by_hand ? "b" : "a") << "people outrank the model";
      continue;
    }
    const bool a = r["text"].get<std::string>().starts_with("quiet");
    right += r["label"] == (a ? "a" : "b") ? 1 : 0;
  }
  EXPECT_GE(right, 18) << repl.line(3).dump(); // the classifier learned the words
}

} // namespace
