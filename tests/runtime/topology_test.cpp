// The topology parser: what a valid file turns into (defaults, resolved paths, token files) and
// how every kind of bad file is refused with its file, line and the fix.
#include "llmos/runtime/topology.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "../temp_folder.hpp"
#include "llmos/messages/error.hpp"
#include "test_kinds.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;

const std::string source = "/cluster/conf/test.yaml";

using test::temp_folder;

class topology_test : public ::testing::Test {
protected:
  topology parse(const std::string& text, const std::string& from = source) {
    auto result = parse_topology(text, from, kinds_);
    EXPECT_TRUE(result) << describe(result.error());
    return result ? std::move(*result) : topology{};
  }

  /// The topology in `file`, which must load; an empty one (and a test failure) when not.
  topology load(const std::string& file) {
    auto result = load_topology(file, kinds_);
    EXPECT_TRUE(result) << describe(result.error());
    return result ? std::move(*result) : topology{};
  }

  /// The message of a refused file, after checking its code; starts with "FILE:LINE: ".
  std::string refusal(const std::string& text) {
    auto result = parse_topology(text, source, kinds_);
    EXPECT_FALSE(result) << "this file should have been refused:\n" << text;
    if (result)
      return "";
    EXPECT_EQ(result.error().category(), error_category);
    EXPECT_EQ(result.error().code(), static_cast<uint8_t>(error_code::bad_topology));
    auto msg = describe(result.error());
    const std::string prefix = "bad_topology: ";
    return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
  }

  /// Expects a refusal at `line` whose message contains every one of `words`.
  void expect_refused(const std::string& text, int line, std::vector<std::string> words) {
    auto msg = refusal(text);
    EXPECT_EQ(msg.rfind(source + ":" + std::to_string(line) + ": ", 0), 0u)
        << "expected line " << line << " in: " << msg;
    for (const auto& word : words)
      EXPECT_NE(msg.find(word), std::string::npos) << "missing '" << word << "' in: " << msg;
  }

  actor_kind_table kinds_ = test::make_test_kinds();
};

// --- valid files -------------------------------------------------------------------------------

TEST_F(topology_test, full_example) {
  auto topo = parse(R"(cluster: demo
seed: beta
auth_token: s3cret
heartbeat_ms: 100
lost_after_ms: 900
tls:
  certificate: certs/node.pem
  key: certs/node.key
  ca: /etc/llmos/ca.pem
  passphrase: open
nodes:
  - name: alpha
    host: 10.0.0.1
    port: 4100
    rpc_port: 4200
    devices: [cpu, "cuda:0", cuda:1]
    actors:
      - name: cpu0
        kind: device
        config: {type: cpu, threads: 04}
      - name: gpu0
        kind: device
        config:
          type: cuda
  - name: beta
    port: 4101
    actors:
      - {name: train, kind: trainer, config: {lr: 1e-3, shuffle: no, note: "a, b"}}
)");
  EXPECT_EQ(topo.source, source);
  EXPECT_EQ(topo.cluster, "demo");
  EXPECT_EQ(topo.seed, "beta");
  EXPECT_EQ(topo.auth_token, "s3cret");
  EXPECT_EQ(topo.heartbeat_ms, 100u);
  EXPECT_EQ(topo.lost_after_ms, 900u);
  ASSERT_TRUE(topo.tls);
  EXPECT_EQ(topo.tls->certificate, "/cluster/conf/certs/node.pem");
  EXPECT_EQ(topo.tls->key, "/cluster/conf/certs/node.key");
  EXPECT_EQ(topo.tls->ca, "/etc/llmos/ca.pem");
  EXPECT_EQ(topo.tls->passphrase, "open");
  ASSERT_EQ(topo.nodes.size(), 2u);
  const auto& alpha = topo.nodes[0];
  EXPECT_EQ(alpha.name, "alpha");
  EXPECT_EQ(alpha.host, "10.0.0.1");
  EXPECT_EQ(alpha.port, 4100);
  EXPECT_EQ(alpha.rpc_port, 4200);
  EXPECT_EQ(alpha.line, 12);
  EXPECT_EQ(alpha.devices, (std::vector<std::string>{"cpu", "cuda:0", "cuda:1"}));
  ASSERT_EQ(alpha.actors.size(), 2u);
  EXPECT_EQ(alpha.actors[0].name, "cpu0");
  EXPECT_EQ(alpha.actors[0].kind, "device");
  EXPECT_EQ(alpha.actors[0].line, 18);
  // Values are kept as written ("04", not 4); the kind's defaults fill what is absent.
  EXPECT_EQ(alpha.actors[0].config,
            (std::map<std::string, std::string>{{"type", "cpu"}, {"threads", "04"}}));
  EXPECT_EQ(alpha.actors[1].config,
            (std::map<std::string, std::string>{{"type", "cuda"}, {"threads", "1"}}));
  const auto& beta = topo.nodes[1];
  EXPECT_EQ(beta.host, "127.0.0.1");
  EXPECT_EQ(beta.rpc_port, 0);
  EXPECT_EQ(beta.devices, std::vector<std::string>{"cpu"});
  ASSERT_EQ(beta.actors.size(), 1u);
  EXPECT_EQ(beta.actors[0].config, (std::map<std::string, std::string>{
                                       {"lr", "1e-3"}, {"shuffle", "false"}, {"note", "a, b"}}));
  EXPECT_EQ(topo.find_node("beta"), &topo.nodes[1]);
  EXPECT_EQ(topo.find_node("delta"), nullptr);
}

TEST_F(topology_test, minimal_file_gets_the_defaults) {
  auto topo = parse("nodes:\n  - {name: solo, port: 4100}\n");
  EXPECT_EQ(topo.cluster, "llmos");
  EXPECT_EQ(topo.seed, "solo") << "the first node is the seed by default";
  EXPECT_EQ(topo.heartbeat_ms, 500u);
  EXPECT_EQ(topo.lost_after_ms, 2000u);
  EXPECT_FALSE(topo.tls);
  EXPECT_EQ(topo.auth_token, "");
  ASSERT_EQ(topo.nodes.size(), 1u);
  EXPECT_EQ(topo.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(topo.nodes[0].rpc_port, 0);
  EXPECT_EQ(topo.nodes[0].devices, std::vector<std::string>{"cpu"});
  EXPECT_TRUE(topo.nodes[0].actors.empty());
}

TEST_F(topology_test, empty_actor_list_and_config_are_allowed) {
  auto topo = parse(R"(nodes:
  - name: a
    port: 4100
    actors:
  - name: b
    port: 4101
    actors:
      - name: d
        kind: device
        config:
)");
  ASSERT_EQ(topo.nodes.size(), 2u);
  EXPECT_TRUE(topo.nodes[0].actors.empty());
  ASSERT_EQ(topo.nodes[1].actors.size(), 1u);
  EXPECT_EQ(topo.nodes[1].actors[0].config.at("threads"), "1");
}

TEST_F(topology_test, same_port_on_different_hosts_is_fine) {
  auto topo = parse(R"(nodes:
  - {name: a, host: 10.0.0.1, port: 4100, rpc_port: 4200}
  - {name: b, host: 10.0.0.2, port: 4100, rpc_port: 4200}
)");
  EXPECT_EQ(topo.nodes.size(), 2u);
}

TEST_F(topology_test, tls_paths_resolve_against_the_cwd_when_the_source_has_no_folder) {
  auto topo = parse(R"(tls: {certificate: c.pem, key: ./k/../k.pem, ca: ca.pem}
nodes: [{name: a, port: 4100}]
)",
                    "test.yaml");
  ASSERT_TRUE(topo.tls);
  EXPECT_EQ(topo.tls->certificate, (fs::current_path() / "c.pem").string());
  EXPECT_EQ(topo.tls->key, (fs::current_path() / "k.pem").string());
  EXPECT_EQ(topo.tls->passphrase, "");
}

TEST_F(topology_test, auth_token_file_is_read_relative_to_the_file_and_trimmed) {
  temp_folder dir;
  dir.write("secrets/token", "  tok-123\n\n");
  auto path = dir.write("cluster.yaml", "auth_token_file: secrets/token\n"
                                        "nodes: [{name: a, port: 4100}]\n");
  auto topo = load(path);
  EXPECT_EQ(topo.auth_token, "tok-123");
  EXPECT_EQ(topo.source, path);
}

TEST_F(topology_test, a_cluster_secret_is_read_inline_or_from_a_file) {
  temp_folder dir;
  dir.write("secret", "0123456789abcdef0123\n");
  auto path = dir.write("cluster.yaml", "cluster_secret_file: secret\n"
                                        "nodes: [{name: a, port: 4100}]\n");
  auto topo = load(path);
  EXPECT_EQ(topo.cluster_secret, "0123456789abcdef0123");
  EXPECT_FALSE(topo.tls);
  auto inline_secret = load(
      dir.write("inline.yaml", "cluster_secret: abcdefghijklmnop\nnodes: [{name: a, port: 1}]\n"));
  EXPECT_EQ(inline_secret.cluster_secret, "abcdefghijklmnop");
}

TEST_F(topology_test, a_short_cluster_secret_or_one_beside_tls_is_refused) {
  expect_refused("cluster_secret: short\nnodes: [{name: a, port: 1}]\n", 1,
                 {"the cluster secret has 5 characters; use at least 16"});
  expect_refused("cluster_secret: abcdefghijklmnopq\ntls: {certificate: c.pem, key: k.pem, ca: "
                 "ca.pem}\nnodes: [{name: a, port: 1}]\n",
                 1, {"both 'tls' and a cluster secret", "keep one"});
  expect_refused("cluster_secret: abcdefghijklmnopq\ncluster_secret_file: s\n"
                 "nodes: [{name: a, port: 1}]\n",
                 2, {"both 'cluster_secret' (line 1) and 'cluster_secret_file'"});
}

TEST_F(topology_test, example_files_load) {
  auto topo = load(LLMOS_SOURCE_DIR "/nodes/examples/three-node.yaml");
  EXPECT_EQ(topo.heartbeat_ms, 250u);
  EXPECT_EQ(topo.lost_after_ms, 1500u);
  EXPECT_EQ(topo.seed, "alpha");
  ASSERT_EQ(topo.nodes.size(), 3u);
  const std::vector<std::string> names{"alpha", "beta", "gamma"};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& node = topo.nodes[i];
    EXPECT_EQ(node.name, names[i]);
    EXPECT_EQ(node.host, "127.0.0.1");
    EXPECT_EQ(node.port, 47100 + i);
    EXPECT_EQ(node.rpc_port, 47200 + i);
    ASSERT_EQ(node.actors.size(), 1u);
    EXPECT_EQ(node.actors[0].name, "cpu-" + names[i]);
    EXPECT_EQ(node.actors[0].kind, "device");
    EXPECT_EQ(node.actors[0].config,
              (std::map<std::string, std::string>{{"type", "cpu"}, {"threads", "1"}}));
  }
  EXPECT_EQ(load(LLMOS_SOURCE_DIR "/nodes/examples/single-node.yaml").nodes.size(), 1u);
}

TEST_F(topology_test, embedded_default_is_one_local_node) {
  auto topo = embedded_topology();
  EXPECT_EQ(topo.source, "<embedded>");
  EXPECT_EQ(topo.seed, "local");
  ASSERT_EQ(topo.nodes.size(), 1u);
  EXPECT_EQ(topo.nodes[0].name, "local");
  EXPECT_EQ(topo.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(topo.nodes[0].port, 0);
  EXPECT_EQ(topo.nodes[0].rpc_port, 0);
  EXPECT_EQ(topo.nodes[0].devices, std::vector<std::string>{"cpu"});
  EXPECT_TRUE(topo.nodes[0].actors.empty());
  EXPECT_FALSE(topo.tls);
}

// --- refused files -----------------------------------------------------------------------------

TEST_F(topology_test, unreadable_file_is_named) {
  auto result = load_topology("/nonexistent/llmos/cluster.yaml", kinds_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), static_cast<uint8_t>(error_code::bad_topology));
  auto msg = describe(result.error());
  EXPECT_NE(msg.find("/nonexistent/llmos/cluster.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot read"), std::string::npos) << msg;
  temp_folder dir;
  result = load_topology(dir.path().string(), kinds_);
  ASSERT_FALSE(result);
  EXPECT_NE(describe(result.error()).find("directory"), std::string::npos);
}

TEST_F(topology_test, empty_file_not_a_map_and_syntax_errors) {
  expect_refused("", 1, {"empty", "nodes"});
  expect_refused("# just a comment\n", 1, {"empty"});
  expect_refused("- a\n- b\n", 1, {"top level must be a map", "a list"});
  expect_refused("nodes:\n  - name: a\n    port: [4100\n", 3, {"YAML syntax error"});
  expect_refused("nodes:\n  - name: a\n  port: 4100\n    x: 1\n", 3, {"YAML syntax error"});
  expect_refused("nodes: [{name: a, port: 1}]\n---\nnodes: []\n", 3, {"more than one", "---"});
}

// Found by fuzzing: yaml-cpp 0.7's LoadAll never returned on these (a 97-byte topology grew the
// process by 9 GB in a minute); each is now a syntax error at its line.
TEST_F(topology_test, a_document_opening_with_a_comma_is_a_syntax_error_not_a_hang) {
  expect_refused(",", 1, {"YAML syntax error", "','"});
  expect_refused("# one node\n  , config: {a}\n", 2, {"YAML syntax error"});
  expect_refused("&a ,", 1, {"YAML syntax error"});
  expect_refused("nodes: [{name: a, port: 1}]\n---\n,", 3, {"YAML syntax error", "','"});
}

TEST_F(topology_test, unknown_keys_suggest_the_closest_known_key) {
  expect_refused("clustr: x\nnodes: [{name: a, port: 1}]\n", 1,
                 {"unknown key 'clustr'; did you mean 'cluster'?", "known keys in the top level"});
  expect_refused("nodes:\n  - name: a\n    prot: 4100\n", 3,
                 {"unknown key 'prot'; did you mean 'port'?"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - {name: x, knd: device}\n",
                 5, {"unknown key 'knd'", "did you mean 'kind'?"});
  expect_refused(
      "tls: {certificate: a, key: b, ca: c, passphrse: d}\nnodes: [{name: a, port: 1}]\n", 1,
      {"unknown key 'passphrse'", "did you mean 'passphrase'?"});
  // Nothing close: the known keys are listed instead.
  expect_refused("nodes:\n  - name: a\n    port: 1\n    memory: 4G\n", 4,
                 {"unknown key 'memory'; remove it", "known keys in a node: name, host, port"});
}

TEST_F(topology_test, keys_given_twice_are_refused) {
  expect_refused("nodes:\n  - name: a\n    port: 1\n    port: 2\n", 4,
                 {"key 'port' appears twice", "line 3", "keep one"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n        kind: "
                 "device\n        config:\n          threads: 1\n          threads: 2\n",
                 9, {"config key 'threads' appears twice", "line 8"});
}

TEST_F(topology_test, missing_required_fields) {
  expect_refused("cluster: x\n", 1, {"no 'nodes'", "add 'nodes:'"});
  expect_refused("nodes: []\n", 1, {"non-empty list", "an empty list"});
  expect_refused("nodes:\n  - port: 4100\n", 2, {"no 'name'", "name: alpha"});
  expect_refused("nodes:\n  - name: a\n    host: h\n", 2,
                 {"node 'a' has no 'port'", "between 1 and 65535"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - kind: device\n", 5,
                 {"actor has no 'name'"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n", 5,
                 {"actor 'x' has no 'kind'", "device, trainer"});
  expect_refused("tls:\n  certificate: a.pem\n  ca: ca.pem\nnodes: [{name: a, port: 1}]\n", 1,
                 {"tls has no 'key'", "add 'key: path/to/file'"});
}

TEST_F(topology_test, wrong_types) {
  expect_refused("nodes:\n  - name: a\n    port: abc\n", 3,
                 {"'port' must be a whole number between 1 and 65535", "'abc'"});
  expect_refused("nodes:\n  - name: a\n    port: [1]\n", 3, {"'port' must be a single value"});
  expect_refused("nodes:\n  - name: a\n    port:\n", 3, {"'port' must be a single value", "empty"});
  expect_refused("nodes: {name: a}\n", 1, {"'nodes' must be a non-empty list", "a map"});
  expect_refused("nodes:\n  - just-a-name\n", 2, {"must be a map"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    devices: cpu\n", 4,
                 {"'devices' of node 'a' must be a non-empty list", "devices: [cpu"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors: {x: 1}\n", 4,
                 {"'actors' of node 'a' must be a list"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n        kind: "
                 "device\n        config: [1, 2]\n",
                 7, {"'config' of actor 'x' must be a map", "config: {"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n        kind: "
                 "device\n        config:\n          threads: {n: 1}\n",
                 8, {"config key 'threads' of actor 'x' must be a single value", "a map"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n        kind: "
                 "device\n        config:\n          threads: [1]\n",
                 8, {"config key 'threads'", "a list"});
  expect_refused("heartbeat_ms: fast\nnodes: [{name: a, port: 1}]\n", 1,
                 {"'heartbeat_ms' must be a whole number"});
}

TEST_F(topology_test, ports_out_of_range) {
  expect_refused("nodes:\n  - name: a\n    port: 70000\n", 3,
                 {"'port' is 70000, out of range", "between 1 and 65535"});
  expect_refused("nodes:\n  - name: a\n    port: 0\n", 3, {"'port' is 0, out of range"});
  expect_refused("nodes:\n  - name: a\n    port: -5\n", 3, {"'port' is -5, out of range"});
  expect_refused("nodes:\n  - name: a\n    port: 99999999999999999999999\n", 3, {"out of range"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    rpc_port: 65536\n", 4,
                 {"'rpc_port' is 65536", "between 0 and 65535", "0 for none"});
}

TEST_F(topology_test, duplicate_node_and_actor_names) {
  expect_refused("nodes:\n  - {name: a, port: 1}\n  - {name: b, port: 2}\n  - {name: a, port: 3}\n",
                 4, {"node name 'a' is already used at line 2", "its own name"});
  expect_refused(R"(nodes:
  - name: a
    port: 1
    actors:
      - {name: worker, kind: device}
  - name: b
    port: 2
    actors:
      - {name: worker, kind: device}
)",
                 9, {"actor name 'worker' is already used at line 5", "whole cluster"});
}

TEST_F(topology_test, ports_are_unique_per_host) {
  expect_refused("nodes:\n  - {name: a, port: 4100}\n  - {name: b, port: 4100}\n", 3,
                 {"port 4100 on host 127.0.0.1 is already used by node 'a' (port, line 2)"});
  expect_refused("nodes:\n  - {name: a, port: 4100, rpc_port: 4200}\n"
                 "  - {name: b, port: 4200}\n",
                 3, {"port 4200", "node 'a' (rpc_port, line 2)", "its own number"});
  expect_refused("nodes:\n  - name: a\n    port: 4100\n    rpc_port: 4100\n", 4,
                 {"port 4100 on host 127.0.0.1 is already used by node 'a' (port, line 3)"});
}

TEST_F(topology_test, unknown_actor_kind_lists_the_known_kinds) {
  expect_refused(
      "nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n"
      "        kind: devise\n",
      6, {"unknown actor kind 'devise'", "did you mean 'device'?", "known kinds: device, trainer"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - {name: x, kind: gpu}\n", 5,
                 {"unknown actor kind 'gpu'", "known kinds: device, trainer"});
}

TEST_F(topology_test, restart_policies_default_to_on_failure_and_are_checked) {
  auto topo = parse("nodes:\n  - name: a\n    port: 1\n    actors:\n"
                    "      - {name: x, kind: device}\n"
                    "      - {name: y, kind: device, restart: never}\n"
                    "      - {name: z, kind: device, restart: always}\n");
  ASSERT_EQ(topo.nodes[0].actors.size(), 3u);
  EXPECT_EQ(topo.nodes[0].actors[0].restart, "on-failure");
  EXPECT_EQ(topo.nodes[0].actors[1].restart, "never");
  EXPECT_EQ(topo.nodes[0].actors[2].restart, "always");
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n"
                 "        kind: device\n        restart: sometimes\n",
                 7, {"actor 'x'", "restart is 'sometimes'", "always, on-failure or never"});
}

TEST_F(topology_test, bad_actor_configs_point_at_the_key) {
  const std::string head = "nodes:\n  - name: a\n    port: 1\n    actors:\n      - name: x\n";
  expect_refused(
      head + "        kind: device\n        config:\n          type: cpu\n"
             "          thread: 2\n",
      9,
      {"actor 'x' (kind device)", "config key 'thread' is not known", "did you mean 'threads'?"});
  expect_refused(head + "        kind: device\n        config:\n          threads: many\n", 8,
                 {"config key 'threads' must be an integer"});
  expect_refused(head + "        kind: device\n        config: {type: tpu}\n", 7,
                 {"config key 'type' must be one of cpu, cuda"});
  expect_refused(head + "        kind: device\n        config:\n          type: ~\n", 8,
                 {"config key 'type'", "must be a single value", "empty"});
  // A missing required key points at the config, or at the actor when it has none.
  expect_refused(head + "        kind: trainer\n        config: {shuffle: yes}\n", 7,
                 {"config key 'lr' is required by kind 'trainer'"});
  expect_refused(head + "        kind: trainer\n", 5, {"config key 'lr' is required"});
}

TEST_F(topology_test, bad_device_strings) {
  expect_refused("nodes:\n  - name: a\n    port: 1\n    devices:\n      - cpu\n      - gpu0\n", 6,
                 {"device 'gpu0' of node 'a' is not valid", "'cuda:N'"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    devices: [\"cuda:\"]\n", 4,
                 {"device 'cuda:'"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    devices: [cpu, cpu]\n", 4,
                 {"listed twice"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    devices: []\n", 4, {"an empty list"});
}

TEST_F(topology_test, seed_must_name_a_node) {
  expect_refused("seed: alfa\nnodes:\n  - {name: alpha, port: 1}\n  - {name: beta, port: 2}\n", 1,
                 {"seed 'alfa' is not a node", "did you mean 'alpha'?", "alpha, beta"});
}

TEST_F(topology_test, names_must_be_command_line_safe) {
  expect_refused("nodes:\n  - name: my node\n    port: 1\n", 2,
                 {"'name' is 'my node'", "letters, digits, '_', '.' and '-'"});
  expect_refused("cluster: a/b\nnodes: [{name: a, port: 1}]\n", 1, {"'cluster' is 'a/b'"});
  expect_refused("nodes:\n  - name: a\n    port: 1\n    actors:\n      - {name: \"x:y\", kind: "
                 "device}\n",
                 5, {"'name' is 'x:y'", "not a valid name"});
}

TEST_F(topology_test, reserved_system_names_are_refused) {
  for (auto name : {"alpha.manager", "beta.directory", "x.gateway"})
    expect_refused(std::string{"nodes:\n  - name: a\n    port: 1\n    actors:\n"} +
                       "      - {name: " + name + ", kind: device}\n",
                   5, {"reserves for its own actors", "rename it"});
}

TEST_F(topology_test, lost_after_must_exceed_heartbeat) {
  expect_refused("heartbeat_ms: 500\nlost_after_ms: 500\nnodes: [{name: a, port: 1}]\n", 2,
                 {"lost_after_ms (500) must be greater than heartbeat_ms (500)"});
  expect_refused("heartbeat_ms: 3000\nnodes: [{name: a, port: 1}]\n", 1,
                 {"lost_after_ms (2000, the default) must be greater than heartbeat_ms (3000)"});
  expect_refused("heartbeat_ms: 0\nnodes: [{name: a, port: 1}]\n", 1, {"out of range"});
}

TEST_F(topology_test, auth_token_conflicts_and_unreadable_token_files) {
  expect_refused("auth_token: a\nauth_token_file: t\nnodes: [{name: a, port: 1}]\n", 2,
                 {"both 'auth_token' (line 1) and 'auth_token_file'", "keep one"});
  expect_refused("auth_token_file: missing-token\nnodes: [{name: a, port: 1}]\n", 1,
                 {"cannot read auth_token_file '/cluster/conf/missing-token'"});
  temp_folder dir;
  dir.write("token", " \n");
  auto path = dir.write("c.yaml", "nodes: [{name: a, port: 1}]\nauth_token_file: token\n");
  auto result = load_topology(path, kinds_);
  ASSERT_FALSE(result);
  auto msg = describe(result.error());
  EXPECT_NE(msg.find(path + ":2: auth_token_file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is empty"), std::string::npos) << msg;
}

} // namespace
} // namespace llmos

TEST(topology_paths, relative_config_paths_resolve_against_the_topology_folder) {
  const auto kinds = llmos::test::make_test_kinds();
  auto topo = llmos::parse_topology(R"(nodes:
  - name: a
    port: 4100
    actors:
      - {name: t1, kind: trainer, config: {lr: 0.1, data: pipelines/p.yaml}}
      - {name: t2, kind: trainer, config: {lr: 0.1, data: /abs/p.yaml}}
)",
                                    "/srv/cluster/topo.yaml", kinds);
  ASSERT_TRUE(topo) << llmos::describe(topo.error());
  EXPECT_EQ(topo->nodes[0].actors[0].config.at("data"), "/srv/cluster/pipelines/p.yaml");
  EXPECT_EQ(topo->nodes[0].actors[1].config.at("data"), "/abs/p.yaml");
}
