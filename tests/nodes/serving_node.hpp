// A node process that serves: a words data set, a classifier (m) and a small GPT (lm) to train,
// a registry, a server for each, and the HTTP gateway `web` (token "secret", body limit 4096,
// alert rules, a feedback log); shared by the serving tests.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "solo_node.hpp"

namespace llmos::test {

inline const char* alert_rules = R"(rules:
  - name: m-no-replica
    metric: llmos_serving_replicas
    labels: {model: m}
    op: "<"
    threshold: 1
    for: 0s
    severity: critical
    summary: "model m has no replica"
)";

struct serving_node {
  temp_dir dir{"serving"};
  uint16_t rpc = 0;
  uint16_t http = 0;
  child_process node;

  serving_node() {
    write_words_dataset(dir.path(), 160);
    write_file(dir / "bag.yaml", "model: m\narchitecture: bag\n"
                                 "hyper: {embed_dim: 16, hidden_dim: 16, dropout: 0.0}\n"
                                 "train: {lr: 0.02, batch_size: 16, max_steps: 40, "
                                 "warmup_steps: 2, eval_every: 0}\n");
    write_file(dir / "lm.yaml", "model: lm\narchitecture: gpt\n"
                                "hyper: {embed_dim: 32, layers: 1, heads: 2, ff_dim: 64, "
                                "max_length: 64, dropout: 0.0}\n"
                                "train: {lr: 0.01, batch_size: 8, max_steps: 15, "
                                "warmup_steps: 2, eval_every: 0}\n");
    write_file(dir / "alerts.yaml", alert_rules);
    const auto ports = free_ports(3);
    rpc = ports[1];
    http = ports[2];
    write_file(
        dir / "topology.yaml",
        "cluster: serving\n" + fast_heartbeat + "nodes:\n" +
            node_entry("a", ports[0], rpc, 1,
                       "      - {name: words, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
                       "      - {name: m-trainer, kind: model, config: {spec: bag.yaml}}\n"
                       "      - {name: lm-trainer, kind: model, config: {spec: lm.yaml}}\n"
                       "      - {name: registry, kind: registry, config: {root: models}}\n"
                       "      - {name: m-server, kind: server, config: {model: m, replicas: 2, "
                       "max_batch: 16, max_delay_us: 3000, queue_limit: 64}}\n"
                       "      - {name: lm-server, kind: server, config: {model: lm}}\n"
                       "      - {name: web, kind: http, config: {port: " +
                           std::to_string(http) +
                           ", token: secret, body_limit: 4096, threads: 8, alerts: alerts.yaml, "
                           "feedback: feedback.jsonl}}\n"));
    node = start_node(dir / "topology.yaml", "a");
  }

  std::string log() const { return read_file(dir / "a.log"); }

  nlohmann::json send(const nlohmann::json& params) const { return rpc_send(rpc, params); }
};

inline nlohmann::json body_of(const httplib::Result& r) {
  return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json{};
}

/// Trains `model` from the words data set and publishes it; returns the version.
inline uint32_t train_and_publish(const serving_node& n, const std::string& trainer) {
  auto trained = n.send(nlohmann::json::array({trainer, "train", {{"dataset", "words"}}}));
  EXPECT_FALSE(trained.contains("error")) << trained.dump() << n.log();
  // The scores arrive as an object, not as JSON inside a string.
  auto scored = n.send(nlohmann::json::array({trainer, "evaluate", {{"dataset", "words"}}}));
  EXPECT_TRUE(scored.is_object() && scored.contains("count")) << scored.dump();
  auto published = n.send(nlohmann::json::array({trainer, "publish", {{"dataset", "words"}}}));
  EXPECT_FALSE(published.contains("error")) << published.dump() << n.log();
  return published.value("version", 0u);
}

} // namespace llmos::test
