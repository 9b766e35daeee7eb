// A real node's msgpack-RPC gateway against bad input on raw sockets (a bad method type is
// answered and the connection stays usable; garbage, oversized and truncated frames cost only
// their connection), its auth token, and the refusals of llmos-node at startup: a bad topology
// names file and line, an unknown node and a taken port are named.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cluster_harness.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "solo_node.hpp"

namespace {

namespace rpc = llmos::rpc;
using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

class gateway_test : public testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(node_.start_all()); }

  void connect(rpc::client& c) {
    ASSERT_FALSE(c.connect("127.0.0.1", node_.rpc_port("solo"))) << "cannot connect to the gateway";
  }

  // A fresh connection answers ping: the node survived whatever came before.
  void expect_node_serves() {
    EXPECT_TRUE(node_.process("solo").running()) << "the node exited";
    rpc::client c;
    connect(c);
    auto res = c.call("ping", json::array(), 5s);
    ASSERT_TRUE(res) << llmos::describe(res.error());
    EXPECT_TRUE(res->ok) << res->value.dump();
    EXPECT_EQ(res->value.value("node", ""), "solo");
  }

  cluster node_{"gateway", {"solo"}};
};

/// The nice value of each of process `pid`'s threads by thread id (/proc/PID/task/TID/stat,
/// field 19; the thread's name, field 2, may hold spaces, so fields are counted after its ')').
std::map<int, int> nice_by_thread(pid_t pid) {
  std::map<int, int> out;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in{task.path() / "stat"};
    std::string stat{std::istreambuf_iterator<char>{in}, {}};
    std::istringstream rest{stat.substr(stat.rfind(')') + 2)};
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    out[std::stoi(task.path().filename().string())] = std::stoi(field);
  }
  return out;
}

TEST(rpc_nice, the_rpc_ports_threads_run_that_much_below_the_nodes) {
  // llmos-node --rpc-nice 10: the RPC system's socket and timer threads; the node's own threads
  // (main, scheduler, node-to-node multiplexer) stay where the node started.
  cluster node{"rpc-nice", {"solo"}};
  node.set_node_args("solo", {"--rpc-nice", "10"});
  ASSERT_TRUE(node.start_all());
  EXPECT_EQ(node.repl("solo", {"ping"}).exit_code, 0);
  const auto pid = node.process("solo").pid();
  const auto nice = nice_by_thread(pid);
  const int base = nice.at(pid);
  std::map<int, int> threads_at;
  for (const auto& [tid, value] : nice)
    ++threads_at[value];
  EXPECT_GE(threads_at[std::min(19, base + 10)], 2) << "RPC threads 10 below the node";
  EXPECT_GE(threads_at[base], 3) << "the node's own threads";
  EXPECT_EQ(threads_at.size(), 2u) << "no thread at a third priority";
}

TEST_F(gateway_test, a_bad_method_type_gets_malformed_frame_and_the_connection_stays_usable) {
  rpc::client c;
  connect(c);
  // [0, 7, 42, []]: a request whose msgid is readable but whose method is an integer.
  ASSERT_FALSE(c.send_raw(std::string{"\x94\x00\x07\x2a\x90", 5}));
  auto res = c.read_response(5s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_FALSE(res->ok);
  EXPECT_EQ(res->value.value("code", ""), "malformed_frame") << res->value.dump();
  ASSERT_TRUE(c.connected());
  auto ping = c.call("ping", json::array(), 5s);
  ASSERT_TRUE(ping) << llmos::describe(ping.error());
  EXPECT_TRUE(ping->ok) << ping->value.dump();
  EXPECT_EQ(ping->value.value("node", ""), "solo");
}

TEST_F(gateway_test, garbage_bytes_close_the_connection) {
  rpc::client c;
  connect(c);
  ASSERT_FALSE(c.send_raw(std::string{"\xc1"})); // never used in msgpack
  auto res = c.read_response(5s);
  ASSERT_FALSE(res) << "got a response: " << res->value.dump();
  EXPECT_NE(llmos::describe(res.error()).find("closed"), std::string::npos)
      << llmos::describe(res.error());
  EXPECT_FALSE(c.connected());
  expect_node_serves();
}

TEST_F(gateway_test, an_oversized_frame_is_refused) {
  rpc::client c;
  connect(c);
  // [0, 1, "ping", [bin32 of 17 MiB]], streamed: the gateway's limit is 16 MiB a frame.
  const uint32_t size = 17u << 20;
  std::string head{"\x94\x00\x01\xa4ping\x91\xc6", 10};
  for (int shift : {24, 16, 8, 0})
    head.push_back(static_cast<char>((size >> shift) & 0xff));
  ASSERT_FALSE(c.send_raw(head));
  const std::string chunk(64 * 1024, '\0');
  bool send_failed = false;
  for (uint32_t sent = 0; sent < size && !send_failed; sent += chunk.size())
    send_failed = static_cast<bool>(c.send_raw(chunk)); // the gateway may hang up mid-way
  auto res = c.read_response(10s);
  if (res) {
    EXPECT_FALSE(res->ok);
    EXPECT_EQ(res->value.value("code", ""), "frame_too_large") << res->value.dump();
  } else {
    EXPECT_FALSE(c.connected()) << llmos::describe(res.error());
  }
  expect_node_serves();
}

TEST_F(gateway_test, a_truncated_frame_then_close_leaves_the_node_serving) {
  {
    rpc::client c;
    connect(c);
    std::string frame;
    rpc::encode_request(frame, 1, "ping", "");
    ASSERT_FALSE(c.send_raw(frame.substr(0, frame.size() / 2)));
  } // closed mid-frame
  expect_node_serves();
}

class gateway_auth_test : public testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(node_.start_all()); }

  cluster node_{"auth", {"solo"}, llmos::test::fast_heartbeat + "auth_token: s3cret\n"};
};

TEST_F(gateway_auth_test, changing_state_needs_the_token_reading_does_not) {
  auto denied = node_.repl("solo", {"spawn solo device name=d1"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_EQ(denied.error_code(0), "unauthorized") << denied.line(0).dump();

  auto nodes = node_.repl("solo", {"nodes", "actors", "send cpu-solo info"});
  EXPECT_EQ(nodes.exit_code, 0) << nodes.err;
  ASSERT_TRUE(nodes.line(0).is_array());
  EXPECT_EQ(nodes.line(0)[0].value("state", ""), "self");
  EXPECT_FALSE(node_.actor_names("solo").count("d1")) << "the refused spawn happened";

  auto allowed = node_.repl("solo", {"auth s3cret", "spawn solo device name=d1"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(allowed.line(0), true);
  EXPECT_EQ(allowed.line(1).value("name", ""), "d1");

  // Each connection authenticates on its own; --token does it for the user.
  auto stop_denied = node_.repl("solo", {"stop d1"});
  EXPECT_EQ(stop_denied.error_code(0), "unauthorized") << stop_denied.line(0).dump();
  EXPECT_TRUE(node_.actor_names("solo").count("d1"));
  auto stopped = run_repl(node_.rpc_port("solo"), {"stop d1"}, {"--token", "s3cret"});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(stopped.line(0), true);
}

TEST_F(gateway_auth_test, a_wrong_token_is_unauthorized) {
  auto r = node_.repl("solo", {"auth s3cre", "spawn solo device name=d2"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.error_code(0), "unauthorized") << r.line(0).dump();
  EXPECT_EQ(r.error_code(1), "unauthorized") << r.line(1).dump();
  EXPECT_FALSE(node_.actor_names("solo").count("d2"));
}

class node_startup_test : public testing::Test {
protected:
  /// llmos-node run as `node` on the topology file, to its exit; or on `yaml`, written to `file`
  /// in the test's folder first.
  static auto run_node(const std::filesystem::path& topology, const std::string& node) {
    return run_program({program("llmos-node"), "--topology", topology.string(), "--node", node});
  }
  auto run_node(const std::string& file, const std::string& yaml, const std::string& node) const {
    llmos::test::write_file(dir_ / file, yaml);
    return run_node(dir_ / file, node);
  }

  llmos::test::temp_dir dir_{"startup"};
};

TEST_F(node_startup_test, a_bad_topology_is_refused_naming_file_and_line) {
  auto r = run_node("bad.yaml", "nodes:\n  - name: x\n    prot: 4100\n", "x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.yaml:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'port'"), std::string::npos) << r.err;
}

TEST_F(node_startup_test, an_unknown_node_is_refused_with_the_name) {
  auto r = run_node("one.yaml", "nodes:\n  - name: x\n    port: 4100\n", "nope");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no node named 'nope'"), std::string::npos) << r.err;
}

TEST_F(node_startup_test, an_open_port_off_loopback_is_warned_about) {
  const auto ports = llmos::test::free_ports(2);
  auto start = [&](const std::string& host, const std::string& top) {
    const auto file = dir_ / (host + ".yaml");
    llmos::test::write_file(file, top + "nodes:\n  - {name: x, host: " + host +
                                      ", port: " + std::to_string(ports[0]) +
                                      ", rpc_port: " + std::to_string(ports[1]) + "}\n");
    auto node = llmos::test::start_node(file, "x");
    EXPECT_TRUE(llmos::test::wait_until(
        [&] { return llmos::test::read_file(dir_ / "x.log").find(" up: ") != std::string::npos; },
        std::chrono::seconds(20), std::chrono::milliseconds(50)));
    node.stop(SIGTERM);
    return llmos::test::read_file(dir_ / "x.log");
  };
  const auto open = start("0.0.0.0", "");
  EXPECT_NE(open.find("without tls or cluster_secret"), std::string::npos) << open;
  EXPECT_NE(open.find("without auth_token"), std::string::npos) << open;
  const auto guarded = start("0.0.0.0", "auth_token: t0k3n\ncluster_secret: 0123456789abcdef\n");
  EXPECT_EQ(guarded.find("WARN"), std::string::npos) << guarded;
  const auto local = start("127.0.0.1", "");
  EXPECT_EQ(local.find("WARN"), std::string::npos) << local;
}

TEST_F(node_startup_test, a_node_killed_with_clients_connected_restarts_on_its_ports_at_once) {
  cluster c{"restart", {"solo"}};
  ASSERT_TRUE(c.start_all());
  // A client connected to the RPC port (and having made a call) when the node is killed: the
  // server side of its connection lingers in TIME_WAIT. Without address reuse the restarted node
  // could not bind its RPC port until that ended.
  llmos::rpc::client held;
  ASSERT_FALSE(held.connect("127.0.0.1", c.rpc_port("solo"), std::chrono::seconds(2)));
  auto pong = held.call("ping", nlohmann::json::array(), std::chrono::seconds(2));
  ASSERT_TRUE(pong && pong->ok);
  c.stop("solo", SIGKILL);
  ASSERT_TRUE(c.start("solo")) << "the restarted node could not take its ports back";
  EXPECT_EQ(c.repl("solo", {"ping"}).exit_code, 0);
}

TEST_F(node_startup_test, a_taken_port_is_refused_naming_the_port) {
  cluster first{"first", {"solo"}};
  ASSERT_TRUE(first.start_all());
  // The same node again: its node port is taken.
  auto topo = first.write_topology("solo");
  auto again = run_node(topo, "solo");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("port " + std::to_string(first.port("solo"))), std::string::npos)
      << again.err;
  // Another node whose RPC port is taken.
  const auto free = llmos::test::free_ports(1);
  auto rpc = run_node("other.yaml",
                      "nodes:\n  - name: other\n    port: " + std::to_string(free[0]) +
                          "\n    rpc_port: " + std::to_string(first.rpc_port("solo")) + "\n",
                      "other");
  EXPECT_NE(rpc.exit_code, 0);
  EXPECT_NE(rpc.err.find("port " + std::to_string(first.rpc_port("solo"))), std::string::npos)
      << rpc.err;
  // The node that held the ports is unharmed.
  EXPECT_EQ(first.repl("solo", {"ping"}).exit_code, 0);
}

} // namespace
