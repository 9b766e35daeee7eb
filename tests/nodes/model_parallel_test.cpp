// Data-parallel training across processes: two llmos-node processes each host a model replica;
// the test, as a client of one gateway, makes them ranks 0 and 1 (the rendezvous port travels
// in messages), trains both on halves of every batch streamed from a dataset actor, and trains
// a third replica alone on whole batches. The three checkpoints end with the same parameters.
#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../actors/model/replica_parameters.hpp"
#include "cluster_harness.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "model/train/engine.hpp"
#include "solo_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

std::string records_jsonl() {
  static const char* words[] = {"river",  "garden", "window", "market", "silver",
                                "engine", "forest", "bright", "quiet",  "simple"};
  std::string out;
  for (int i = 0; i < 40; ++i)
    out += json{{"text",
                 std::string{words[i % 10]} + " " + words[(i * 7) % 10] + " " + std::to_string(i)},
                {"label", i % 3 == 0 ? "a" : "b"}}
               .dump() +
           "\n";
  return out;
}

bool ping(uint16_t port) {
  return llmos::test::rpc_ping(port);
}

json call(uint16_t port, const json& params) {
  return llmos::test::rpc_send(port, params);
}

TEST(model_parallel, two_replicas_in_two_processes_match_one_replica) {
  temp_dir dir{"model_parallel"};
  write_file(dir / "records.jsonl", records_jsonl());
  write_file(dir / "pipeline.yaml", "dataset: dp\nroot: store\n"
                                    "sources:\n"
                                    "  - {name: r, kind: jsonl, path: records.jsonl,\n"
                                    "     options: {label_field: label}}\n"
                                    "split: {train: 0.8, validation: 0.2, test: 0.0}\n"
                                    "tokenizer: {kind: byte, max_length: 16}\n");
  write_file(dir / "bag.yaml", "model: dp-bag\narchitecture: bag\n"
                               "hyper: {embed_dim: 16, hidden_dim: 16, dropout: 0.0}\n"
                               "train: {lr: 0.01, batch_size: 4, max_steps: 8, warmup_steps: 2, "
                               "eval_every: 0}\n");
  const auto ports = llmos::test::free_ports(4);
  using llmos::test::node_entry;
  const auto topology = dir / "topology.yaml";
  write_file(topology,
             "cluster: dp\n" + llmos::test::fast_heartbeat + "nodes:\n" +
                 node_entry("a", ports[0], ports[1], 0,
                            "      - {name: ds, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
                            "      - {name: m0, kind: model, config: {spec: bag.yaml}}\n"
                            "      - {name: single, kind: model, config: {spec: bag.yaml}}\n") +
                 node_entry("b", ports[2], ports[3], 0,
                            "      - {name: m1, kind: model, config: {spec: bag.yaml}}\n"));
  auto a = llmos::test::start_node(topology, "a");
  auto b = llmos::test::start_node(topology, "b");
  const uint16_t rpc = ports[1];
  ASSERT_TRUE(wait_until([&] { return ping(rpc) && ping(ports[3]); }, 15s, 100ms))
      << llmos::test::read_file(dir / "a.log") << llmos::test::read_file(dir / "b.log");
  // m1 lives on node b; the gateway of a reaches it through the directory once b registered.
  ASSERT_TRUE(wait_until(
      [&] {
        return !call(rpc, json::array({"m1", "info", json::object()})).contains("error");
      },
      15s, 200ms));

  auto ingested = call(rpc, json::array({"ds", "ingest", json::object()}));
  ASSERT_FALSE(ingested.contains("error")) << ingested.dump();
  ASSERT_EQ(ingested.value("train", 0), 32);

  // A library nobody has is refused by name when joining, not at the first step.
  auto unknown =
      call(rpc, json::array({"m0", "join", {{"rank", 0}, {"world", 2}, {"backend", "mpi"}}}));
  ASSERT_TRUE(unknown.contains("error")) << unknown.dump();
  EXPECT_NE(unknown.dump().find("backend 'mpi' is unknown (auto, nccl or gloo)"), std::string::npos)
      << unknown.dump();
  // Rank 0 picks the rendezvous port; rank 1 learns it from us, in a message. Both ask for Gloo
  // (what "auto" picks for CPU replicas too).
  auto port =
      call(rpc, json::array({"m0", "join", {{"rank", 0}, {"world", 2}, {"backend", "gloo"}}}));
  ASSERT_TRUE(port.is_number()) << port.dump();
  auto joined = call(
      rpc, json::array(
               {"m1", "join", {{"rank", 1}, {"world", 2}, {"port", port}, {"backend", "gloo"}}}));
  ASSERT_TRUE(joined.is_number()) << joined.dump();

  const auto ck = [&](const std::string& n) { return (dir / (n + ".ckpt")).string(); };
  json r0, r1, rs;
  std::thread t1([&] {
    r1 = call(rpc, json::array({"m1", "train", {{"dataset", "ds"}, {"checkpoint", ck("m1")}}}));
  });
  r0 = call(rpc, json::array({"m0", "train", {{"dataset", "ds"}, {"checkpoint", ck("m0")}}}));
  t1.join();
  rs = call(rpc,
            json::array({"single",
                         "train",
                         {{"dataset", "ds"}, {"checkpoint", ck("single")}, {"batch_size", "8"}}}));
  ASSERT_FALSE(r0.contains("error")) << r0.dump() << llmos::test::read_file(dir / "a.log");
  ASSERT_FALSE(r1.contains("error")) << r1.dump() << llmos::test::read_file(dir / "b.log");
  ASSERT_FALSE(rs.contains("error")) << rs.dump();
  EXPECT_EQ(r0.value("steps", 0), 8);
  EXPECT_EQ(r1.value("steps", 0), 8);

  auto p0 = llmos::model::engine::load(ck("m0"));
  auto p1 = llmos::model::engine::load(ck("m1"));
  auto ps = llmos::model::engine::load(ck("single"));
  ASSERT_TRUE(p0 && p1 && ps);
  ASSERT_NO_FATAL_FAILURE(expect_replicas_match_single(
      (*ps)->flat_parameters(), (*p0)->flat_parameters(), (*p1)->flat_parameters()));
  // And they did learn something: the parameters moved from their initial values.
  auto fresh = call(rpc, json::array({"m0", "info", json::object()}));
  EXPECT_EQ(fresh.value("step", 0), 8);
  a.stop(SIGTERM);
  b.stop(SIGTERM);
}

} // namespace
