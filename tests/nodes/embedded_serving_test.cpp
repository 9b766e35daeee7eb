// Serving inside this process (node::start, the way a service embeds llmos): a data set, a
// classifier, the registry, a server with two replicas and the HTTP gateway on one node, with
// CAF's threads, the gateway's workers and the RPC port all live. Clients predict while the
// server, then the gateway, are stopped under them: every answer is a prediction or a clean
// refusal, nothing crashes, and the node still drains and stops. Built in the normal build and
// under ThreadSanitizer (tools/tsan/build.sh), where it is the test of the model, registry,
// server and gateway actors' threads in one process.
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/node/node.hpp"
#include "llmos/runtime/topology.hpp"
#include "solo_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

std::string topology_text(const std::vector<uint16_t>& ports) {
  return "cluster: embedded\n" + llmos::test::fast_heartbeat + "nodes:\n" +
         node_entry("a", ports[0], ports[1], 1,
                    "      - {name: words, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
                    "      - {name: m-trainer, kind: model, config: {spec: bag.yaml}}\n"
                    "      - {name: registry, kind: registry, config: {root: models}}\n"
                    "      - {name: m-server, kind: server, config: {model: m, replicas: 2, "
                    "max_batch: 8, max_delay_us: 1000, queue_limit: 64}}\n"
                    "      - {name: web, kind: http, config: {port: " +
                        std::to_string(ports[2]) + ", token: secret, threads: 4}}\n");
}

/// What the clients saw: predictions, clean refusals (a status with a JSON reason), failed
/// connections (the gateway stopped), and anything else with its text.
struct tally {
  std::atomic<int> predicted{0}, refused{0}, unreachable{0};
  std::mutex mutex;
  std::vector<std::string> odd;

  void take(const httplib::Result& r) {
    if (!r) {
      ++unreachable;
      return;
    }
    const auto body = json::parse(r->body, nullptr, false);
    if (r->status == 200 && body.contains("predictions") && body["predictions"].size() == 1) {
      ++predicted;
    } else if ((r->status == 404 || r->status == 503) && body.contains("error")) {
      ++refused;
    } else {
      std::lock_guard lock{mutex};
      odd.push_back(std::to_string(r->status) + " " + r->body);
    }
  }
};

TEST(embedded_serving, predictions_under_load_while_the_server_and_gateway_stop) {
  temp_dir dir{"embedded_serving"};
  llmos::test::write_words_dataset(dir.path(), 120);
  write_file(dir / "bag.yaml", "model: m\narchitecture: bag\n"
                               "hyper: {embed_dim: 16, hidden_dim: 16, dropout: 0.0}\n"
                               "train: {lr: 0.02, batch_size: 16, max_steps: 30, "
                               "warmup_steps: 2, eval_every: 0}\n");
  const auto ports = llmos::test::free_ports(3);
  const auto text = topology_text(ports);
  write_file(dir / "topology.yaml", text);
  auto kinds = std::make_shared<const llmos::actor_kind_table>(llmos::builtin_actor_kinds());
  auto topo = llmos::parse_topology(text, (dir / "topology.yaml").string(), *kinds);
  ASSERT_TRUE(topo) << llmos::describe(topo.error());
  llmos::node_start_options opts;
  opts.kinds = kinds;
  auto node = llmos::node::start(*topo, "a", opts);
  ASSERT_TRUE(node) << llmos::describe(node.error());
  const auto rpc = ports[1];

  ASSERT_FALSE(rpc_send(rpc, json::array({"words", "ingest", json::object()})).contains("error"));
  auto trained = rpc_send(rpc, json::array({"m-trainer", "train", {{"dataset", "words"}}}));
  ASSERT_FALSE(trained.contains("error")) << trained.dump();
  auto published = rpc_send(rpc, json::array({"m-trainer", "publish", {{"dataset", "words"}}}));
  ASSERT_EQ(published.value("version", 0u), 1u) << published.dump();
  httplib::Client web{"127.0.0.1", ports[2]};
  web.set_read_timeout(30, 0);
  auto moved =
      web.Put("/v1/admin/models/m/aliases/production", {{"Authorization", "Bearer secret"}},
              R"({"version": 1})", "application/json");
  ASSERT_TRUE(moved);
  ASSERT_EQ(moved->status, 200) << moved->body;
  ASSERT_TRUE(http_ready(ports[2], 30s));

  tally seen;
  std::atomic<bool> go{true};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([&, t] {
      httplib::Client c{"127.0.0.1", ports[2]};
      c.set_read_timeout(10, 0);
      c.set_connection_timeout(1, 0);
      for (int i = 0; go; ++i) {
        const auto body = json{{"instances", {t % 2 == 0 ? "river garden" : "engine market"}}};
        seen.take(c.Post("/v1/models/m:predict", body.dump(), "application/json"));
      }
    });
  ASSERT_TRUE(wait_until([&] { return seen.predicted.load() >= 50; }, 30s, 20ms));
  // The server stops with requests queued on its replicas, then the gateway with clients on it.
  auto stopped = rpc_call(rpc, "stop", json::array({"m-server"}));
  EXPECT_FALSE(stopped.contains("error")) << stopped.dump();
  EXPECT_TRUE(wait_until([&] { return seen.refused.load() >= 20; }, 20s, 20ms))
      << "no clean refusal after the server stopped";
  stopped = rpc_call(rpc, "stop", json::array({"web"}));
  EXPECT_FALSE(stopped.contains("error")) << stopped.dump();
  EXPECT_TRUE(wait_until([&] { return seen.unreachable.load() >= 20; }, 20s, 20ms))
      << "the gateway still answers after it stopped";
  go = false;
  for (auto& c : clients)
    c.join();
  std::cout << "predicted " << seen.predicted << ", refused " << seen.refused << ", unreachable "
            << seen.unreachable << "\n";
  EXPECT_TRUE(seen.odd.empty()) << seen.odd.size() << " odd answers, first: " << seen.odd.front();
  EXPECT_TRUE((*node)->drain(10s));
  node->reset();
}

} // namespace
