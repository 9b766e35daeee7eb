// Three llmos-node processes on loopback, driven through llmos-repl: they find each other and
// list each other's actors; a killed node is reported lost by every survivor within a bound and
// its actors leave the directory; a frozen one is found out by the missing heartbeats; a
// restarted one is taken back; a client uses a device on another node through one gateway.
#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include "cluster_harness.hpp"

namespace {

using namespace llmos::test;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

using state_map = std::map<std::string, std::string>;
using name_set = std::set<std::string>;

const name_set all_actors = {"alpha.directory", "alpha.gateway", "alpha.manager", "beta.gateway",
                             "beta.manager",    "gamma.gateway", "gamma.manager", "cpu-alpha",
                             "cpu-beta",        "cpu-gamma"};

const name_set actors_without_beta = {"alpha.directory", "alpha.gateway", "alpha.manager",
                                      "gamma.gateway",   "gamma.manager", "cpu-alpha",
                                      "cpu-gamma"};

long long ms_since(steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t0).count();
}

class cluster_test : public testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(nodes_.start_all());
    // Each node connects to every other on its own; registration in the directory follows.
    for (const auto& from : nodes_.names()) {
      for (const auto& of : nodes_.names()) {
        if (from != of) {
          ASSERT_TRUE(nodes_.wait_for_state(from, of, "up")) << from << " never saw " << of;
        }
      }
    }
    ASSERT_TRUE(wait_until([&] { return nodes_.actor_names("alpha") == all_actors; }, 10s))
        << "actors through alpha: " << testing::PrintToString(nodes_.actor_names("alpha"));
  }

  cluster nodes_{"cluster", {"alpha", "beta", "gamma"}};
};

TEST_F(cluster_test, every_node_sees_the_others_up_and_lists_their_actors) {
  EXPECT_EQ(nodes_.states("alpha"),
            (state_map{{"alpha", "self"}, {"beta", "up"}, {"gamma", "up"}}));
  EXPECT_EQ(nodes_.states("beta"), (state_map{{"alpha", "up"}, {"beta", "self"}, {"gamma", "up"}}));
  // The directory lives on the seed; the other nodes answer `actors` by asking it.
  EXPECT_EQ(nodes_.actor_names("gamma"), all_actors);
  EXPECT_EQ(nodes_.actor_names("alpha", "beta"),
            (name_set{"beta.gateway", "beta.manager", "cpu-beta"}));
  auto r = nodes_.repl("beta", {"actors gamma"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool found = false;
  for (const auto& a : r.line(0)) {
    if (a.value("name", "") == "cpu-gamma") {
      found = true;
      EXPECT_EQ(a.value("kind", ""), "device");
      EXPECT_EQ(a.value("node", ""), "gamma");
      EXPECT_EQ(a["config"].value("type", ""), "cpu");
      EXPECT_EQ(a["config"].value("threads", ""), "1");
    }
  }
  EXPECT_TRUE(found) << r.line(0).dump();
}

TEST_F(cluster_test, a_killed_node_is_lost_for_every_survivor_and_comes_back_on_restart) {
  const auto t0 = steady_clock::now();
  nodes_.stop("beta", SIGKILL);
  long long alpha_ms = -1;
  long long gamma_ms = -1;
  wait_until(
      [&] {
        if (alpha_ms < 0 && nodes_.states("alpha")["beta"] == "lost")
          alpha_ms = ms_since(t0);
        if (gamma_ms < 0 && nodes_.states("gamma")["beta"] == "lost")
          gamma_ms = ms_since(t0);
        return alpha_ms >= 0 && gamma_ms >= 0;
      },
      10s, 10ms);
  std::cout << "[ measured ] beta killed: lost for alpha after " << alpha_ms
            << " ms, for gamma after " << gamma_ms << " ms\n";
  RecordProperty("lost_after_kill_ms_alpha", std::to_string(alpha_ms));
  RecordProperty("lost_after_kill_ms_gamma", std::to_string(gamma_ms));
  ASSERT_GE(alpha_ms, 0) << "alpha never reported beta lost";
  ASSERT_GE(gamma_ms, 0) << "gamma never reported beta lost";
  EXPECT_LT(alpha_ms, 5000);
  EXPECT_LT(gamma_ms, 5000);
  EXPECT_EQ(nodes_.states("alpha")["gamma"], "up");
  EXPECT_EQ(nodes_.states("gamma")["alpha"], "up");

  // The directory drops what lived on the lost node, whichever gateway asks.
  EXPECT_TRUE(wait_until([&] { return nodes_.actor_names("alpha") == actors_without_beta; }, 5s))
      << testing::PrintToString(nodes_.actor_names("alpha"));
  EXPECT_EQ(nodes_.actor_names("gamma"), actors_without_beta);
  auto gone = nodes_.repl("alpha", {"send cpu-beta info"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_EQ(gone.error_code(0), "no_such_actor") << gone.line(0).dump();

  ASSERT_TRUE(nodes_.start("beta"));
  EXPECT_TRUE(nodes_.wait_for_state("alpha", "beta", "up"));
  EXPECT_TRUE(nodes_.wait_for_state("gamma", "beta", "up"));
  EXPECT_TRUE(nodes_.wait_for_state("beta", "alpha", "up"));
  EXPECT_TRUE(nodes_.wait_for_state("beta", "gamma", "up"));
  EXPECT_TRUE(wait_until([&] { return nodes_.actor_names("alpha") == all_actors; }, 10s))
      << testing::PrintToString(nodes_.actor_names("alpha"));
  auto info = nodes_.repl("gamma", {"send cpu-beta info"});
  EXPECT_EQ(info.exit_code, 0) << info.line(0).dump() << info.err;
}

TEST_F(cluster_test, a_frozen_node_is_lost_once_its_heartbeats_stop) {
  // SIGSTOP keeps the connections open: only the missing heartbeats can tell.
  const auto t0 = steady_clock::now();
  ASSERT_TRUE(nodes_.process("gamma").signal(SIGSTOP));
  long long alpha_ms = -1;
  wait_until(
      [&] {
        if (nodes_.states("alpha")["gamma"] == "lost")
          alpha_ms = ms_since(t0);
        return alpha_ms >= 0;
      },
      10s, 10ms);
  std::cout << "[ measured ] gamma frozen: lost for alpha after " << alpha_ms
            << " ms (lost_after_ms 1000, heartbeat_ms 200)\n";
  RecordProperty("lost_after_freeze_ms_alpha", std::to_string(alpha_ms));
  ASSERT_GE(alpha_ms, 0) << "alpha never reported the frozen gamma lost";
  // Silence counts from the last answered heartbeat, which came up to one heartbeat interval
  // before the freeze: never earlier than lost_after_ms - heartbeat_ms.
  EXPECT_GE(alpha_ms, 1000 - 200 - 20);
  EXPECT_LT(alpha_ms, 5000);
  EXPECT_EQ(nodes_.states("alpha")["beta"], "up");

  ASSERT_TRUE(nodes_.process("gamma").signal(SIGCONT));
  EXPECT_TRUE(nodes_.wait_for_state("alpha", "gamma", "up"));
}

TEST_F(cluster_test, a_client_uses_a_device_on_another_node_through_one_gateway) {
  auto spawned = nodes_.repl("alpha", {"spawn gamma device name=scratch threads=1"});
  ASSERT_EQ(spawned.exit_code, 0) << spawned.line(0).dump() << spawned.err;
  EXPECT_EQ(spawned.line(0).value("name", ""), "scratch");
  EXPECT_EQ(spawned.line(0).value("node", ""), "gamma");
  EXPECT_EQ(spawned.line(0).value("kind", ""), "device");
  EXPECT_TRUE(nodes_.actor_names("beta", "gamma").count("scratch"));

  auto gelu = nodes_.repl("alpha", {"send scratch gelu values=1,2"});
  ASSERT_EQ(gelu.exit_code, 0) << gelu.line(0).dump() << gelu.err;
  const auto& values = gelu.line(0)["values"];
  ASSERT_TRUE(values.is_array()) << gelu.line(0).dump();
  ASSERT_EQ(values.size(), 2u);
  EXPECT_NEAR(values[0].get<double>(), 0.841192, 1e-5);
  EXPECT_NEAR(values[1].get<double>(), 1.954598, 1e-5);
  EXPECT_EQ(gelu.line(0)["shape"], nlohmann::json::array({2}));

  auto stopped = nodes_.repl("alpha", {"stop scratch"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.line(0).dump();
  EXPECT_EQ(stopped.line(0), true);
  EXPECT_TRUE(
      wait_until([&] { return nodes_.actor_names("alpha", "gamma").count("scratch") == 0; }, 5s));
  auto after = nodes_.repl("alpha", {"send scratch gelu values=1,2"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_EQ(after.error_code(0), "no_such_actor") << after.line(0).dump();
}

} // namespace
