// A node with a registry, stories servers and an HTTP gateway for the llama node tests
// (llama_node_test.cpp, llama_serving_test.cpp), and a Prometheus series reader.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../actors/model/formats_test_util.hpp"
#include "cluster_harness.hpp"
#include "solo_node.hpp"

namespace llmos::test {

using nlohmann::json;
using namespace std::chrono_literals;

struct llama_node {
  temp_dir dir{"llama"};
  uint16_t rpc = 0;
  uint16_t http = 0;
  child_process node;

  /// `servers`: extra server actors' YAML lines (each "      - {...}\n"); `args`: more
  /// llmos-node options.
  explicit llama_node(const std::string& servers = "", const std::vector<std::string>& args = {}) {
    const auto ports = llmos::test::free_ports(3);
    rpc = ports[1];
    http = ports[2];
    // 16 gateway workers: the serving test holds a crowd of 8 long completions and more clients.
    write_file(dir / "topology.yaml",
               "cluster: llama\n" + fast_heartbeat + "nodes:\n" +
                   node_entry("a", ports[0], rpc, 0,
                              "      - {name: registry, kind: registry, config: {root: models}}\n"
                              "      - {name: stories-server, kind: server, config: {model: "
                              "stories}}\n"
                              "      - {name: gguf-server, kind: server, config: {model: "
                              "stories-gguf}}\n" +
                                  servers + "      - {name: web, kind: http, config: {port: " +
                                  std::to_string(http) + ", token: secret, threads: 16}}\n"));
    node = start_node(dir / "topology.yaml", "a", args);
  }

  std::string log() const { return read_file(dir / "a.log"); }
  json send(const json& params) const { return rpc_send(rpc, params); }

  /// Waits (20 s) for the node's RPC port; fails the test, with the node's log, when it does not
  /// answer.
  void wait_ready() const {
    ASSERT_TRUE(wait_until([&] { return rpc_ping(rpc); }, 20s)) << log();
  }

  /// Waits for the node (wait_ready), then imports the shared stories260K as version 1 of each of
  /// `names` (production); fails the test when the node or the model is missing.
  void ready_with_stories(const std::vector<std::string>& names = {"stories"}) const {
    std::string why;
    const auto models = stories260k_dir(&why);
    ASSERT_FALSE(models.empty()) << why;
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    for (const auto& name : names)
      ASSERT_NO_FATAL_FAILURE(import_stories(models, name));
  }

  /// Imports the shared stories260K as version 1 of `model` and makes it production.
  void import_stories(const std::string& models, const std::string& model = "stories") const {
    auto imported = send(json::array(
        {"registry",
         "import",
         {{"model", model}, {"format", "llama2c"}, {"path", models + "/stories260K.bin"}}}));
    ASSERT_FALSE(imported.contains("error")) << imported.dump() << log();
    auto alias = send(json::array(
        {"registry", "alias", {{"model", model}, {"alias", "production"}, {"version", "1"}}}));
    ASSERT_FALSE(alias.contains("error")) << alias.dump();
  }
};

/// The value of the first series of `metrics` that starts with `key` (name and labels), or -1.
inline double metric(const std::string& metrics, const std::string& key) {
  const auto at = metrics.find(key + " ");
  return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + key.size() + 1));
}

} // namespace llmos::test
