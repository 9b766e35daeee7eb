// The feedback analyst in a real node process: a server logs the requests it answers (with their
// ids) to the analyst, feedback over RPC and HTTP joins to them, refusals name the field, and a
// restarted analyst replays its log to the same analysis.
#include <set>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "solo_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

std::string words_jsonl() {
  std::string out;
  for (int i = 0; i < 120; ++i)
    out +=
        json{{"text", std::string{i % 2 ? "engine market " : "river garden "} + std::to_string(i)},
             {"label", i % 2 ? "b" : "a"}}
            .dump() +
        "\n";
  return out;
}

std::string error_code_of(const json& j) {
  return j.contains("error") && j["error"].is_object() ? j["error"].value("code", "") : "";
}

TEST(feedback, requests_are_logged_feedback_joins_and_a_restart_replays_the_log) {
  temp_dir dir{"feedback"};
  write_file(dir / "words.jsonl", words_jsonl());
  write_file(dir / "pipeline.yaml", "dataset: words\nroot: store\n"
                                    "sources:\n"
                                    "  - {name: r, kind: jsonl, path: words.jsonl,\n"
                                    "     options: {label_field: label}}\n"
                                    "split: {train: 0.8, validation: 0.2, test: 0.0}\n"
                                    "tokenizer: {kind: byte, max_length: 32}\n");
  write_file(dir / "bag.yaml", "model: m\narchitecture: bag\n"
                               "hyper: {embed_dim: 16, dropout: 0.0}\n"
                               "train: {lr: 0.02, batch_size: 16, max_steps: 30, "
                               "warmup_steps: 2, eval_every: 0}\n");
  const auto ports = llmos::test::free_ports(3);
  const uint16_t http = ports[2];
  const std::string actors =
      "      - {name: words, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
      "      - {name: trainer, kind: model, config: {spec: bag.yaml}}\n"
      "      - {name: registry, kind: registry, config: {root: models}}\n"
      "      - {name: fb, kind: feedback, config: {root: " +
      (dir / "fb-state").string() +
      ", fsync: every}}\n"
      "      - {name: m-server, kind: server, config: {model: m, version: latest, feedback: fb}}\n"
      "      - {name: web, kind: http, config: {port: " +
      std::to_string(http) + ", analyst: fb}}\n";
  llmos::test::solo_node node{dir, "fb", ports, 1, actors};
  const uint16_t rpc = node.rpc;
  auto log = [&] { return node.log(); };
  ASSERT_TRUE(node.up(20s));
  auto send = [&](const json& params) { return rpc_send(rpc, params); };
  ASSERT_FALSE(send(json::array({"words", "ingest", json::object()})).contains("error"));
  ASSERT_FALSE(send(json::array({"trainer", "train", {{"dataset", "words"}}})).contains("error"));
  ASSERT_FALSE(send(json::array({"trainer", "publish", {{"dataset", "words"}}})).contains("error"));
  ASSERT_TRUE(wait_until(
      [&] {
        return send(json::array({"m-server", "status", json::object()})).value("version", 0) == 1;
      },
      30s, 200ms))
      << log();

  // Ten predictions, each with its own id; feedback on six of them (four correct, two not).
  std::vector<std::pair<std::string, std::string>> answered; // id, predicted
  for (int i = 0; i < 10; ++i) {
    auto r = send(json::array({"m-server", "predict", {{"text", "river garden 3"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    answered.emplace_back(r.value("request_id", ""), r["predictions"][0].value("label", ""));
  }
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = send(json::array({"fb", "status", json::object()}));
        return s.contains("analysis") &&
               s["analysis"].dump().find("\"requests\":10") != std::string::npos;
      },
      10s, 100ms))
      << send(json::array({"fb", "status", json::object()})).dump();
  httplib::Client web{"127.0.0.1", http};
  for (int i = 0; i < 6; ++i) {
    const auto& [id, predicted] = answered[i];
    const std::string truth = i < 4 ? predicted : (predicted == "a" ? "b" : "a");
    if (i % 2 == 0) {
      auto ack = send(json::array({"fb", "feedback", {{"request_id", id}, {"label", truth}}}));
      ASSERT_FALSE(ack.contains("error")) << ack.dump();
      EXPECT_EQ(ack.value("version", 0), 1);
      EXPECT_TRUE(ack.value("durable", false));
    } else {
      auto r = web.Post("/v1/feedback", json{{"request_id", id}, {"label", truth}}.dump(),
                        "application/json");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 202) << r->body;
    }
  }
  // Refusals: an unknown id, a rating out of range; neither is logged.
  EXPECT_EQ(error_code_of(
                send(json::array({"fb", "feedback", {{"request_id", "nope"}, {"label", "a"}}}))),
            "not_found");
  auto bad = web.Post("/v1/feedback", json{{"request_id", answered[7].first}, {"rating", 5}}.dump(),
                      "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("rating"), std::string::npos) << bad->body;

  auto versions_of = [&] {
    auto s = send(json::array({"fb", "status", json::object()}));
    for (const auto& v : s["analysis"]["versions"])
      if (v.value("version", 0) == 1)
        return v;
    return json{};
  };
  const auto before = versions_of();
  ASSERT_FALSE(before.is_null());
  EXPECT_EQ(before.value("labelled", 0), 6) << before.dump();
  EXPECT_EQ(before.value("corrections", 0), 2) << before.dump();
  EXPECT_NEAR(before.value("accuracy", 0.0), 4.0 / 6.0, 1e-9) << before.dump();

  // The analyst stops and comes back on the same root: the log replays to the same numbers.
  ASSERT_FALSE(rpc_call(rpc, "stop", json::array({"fb"})).contains("error")) << log();
  auto again = rpc_call(
      rpc, "spawn",
      json::array({"a", "feedback", {{"name", "fb"}, {"root", (dir / "fb-state").string()}}}));
  ASSERT_FALSE(again.contains("error")) << again.dump();
  const auto after = versions_of();
  EXPECT_EQ(after.value("labelled", 0), 6) << after.dump();
  EXPECT_EQ(after.value("requests", 0), 10) << after.dump();
  EXPECT_EQ(after.value("confusion", json{}), before.value("confusion", json{}));
}

} // namespace
