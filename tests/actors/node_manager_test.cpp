// The node manager: its cluster_view and back-off policy driven with made-up time points, then
// the actor itself on a one-node topology (no peers, so no network and no middleman) with a real
// directory, driven one message at a time by the testing scheduler.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/event_based_actor.hpp>
#include <gtest/gtest.h>

#include "deterministic_fixture.hpp"
#include "directory/directory_actor.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/runtime/topology.hpp"
#include "node_manager/cluster_view.hpp"
#include "node_manager/node_manager_actor.hpp"
#include "node_manager/restart_policy.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;
using clock_type = cluster_view::clock;

// --- restart_tracker ---------------------------------------------------------------------------

TEST(restart_tracker, each_policy_restarts_what_it_says) {
  const auto t0 = clock_type::now();
  restart_tracker never{restart_mode::never};
  EXPECT_FALSE(never.on_exit(true, t0));
  EXPECT_FALSE(never.gave_up()) << "not restarting by policy is not giving up";
  restart_tracker on_failure{restart_mode::on_failure};
  EXPECT_FALSE(on_failure.on_exit(false, t0)) << "a normal end stays ended";
  EXPECT_EQ(on_failure.on_exit(true, t0), 250ms);
  restart_tracker always{restart_mode::always};
  EXPECT_EQ(always.on_exit(false, t0), 250ms);
  EXPECT_EQ(always.restarts(), 1u);
  EXPECT_EQ(*parse_restart_mode("on-failure"), restart_mode::on_failure);
  EXPECT_EQ(to_string(restart_mode::always), "always");
  auto bad = parse_restart_mode("sometimes");
  ASSERT_FALSE(bad);
  EXPECT_NE(describe(bad.error()).find("'sometimes'"), std::string::npos);
}

TEST(restart_tracker, backs_off_and_gives_up_after_too_many_within_the_window) {
  restart_tracker t{restart_mode::always, {100ms, 1000ms, 5, 60s}};
  const auto t0 = clock_type::now();
  EXPECT_EQ(t.on_exit(true, t0), 100ms);
  EXPECT_EQ(t.on_exit(true, t0 + 1s), 200ms);
  EXPECT_EQ(t.on_exit(true, t0 + 2s), 400ms);
  EXPECT_EQ(t.on_exit(true, t0 + 3s), 800ms);
  EXPECT_EQ(t.on_exit(true, t0 + 4s), 1000ms) << "capped";
  EXPECT_FALSE(t.on_exit(true, t0 + 5s)) << "a sixth end within the minute";
  EXPECT_TRUE(t.gave_up());
  EXPECT_FALSE(t.on_exit(true, t0 + 600s)) << "given up stays given up";

  restart_tracker stable{restart_mode::on_failure, {100ms, 1000ms, 5, 60s}};
  for (int i = 0; i < 20; ++i) // one end every two minutes: always the first delay
    EXPECT_EQ(stable.on_exit(true, t0 + std::chrono::minutes(2 * i)), 100ms) << i;
  EXPECT_FALSE(stable.gave_up());
}

// --- backoff_policy ----------------------------------------------------------------------------

TEST(backoff_policy, doubles_per_failure_up_to_the_cap) {
  const backoff_policy p; // 100 ms, capped at 2 s
  EXPECT_EQ(p.delay(0), 100ms);
  EXPECT_EQ(p.delay(1), 200ms);
  EXPECT_EQ(p.delay(2), 400ms);
  EXPECT_EQ(p.delay(3), 800ms);
  EXPECT_EQ(p.delay(4), 1600ms);
  EXPECT_EQ(p.delay(5), 2000ms);
  EXPECT_EQ(p.delay(6), 2000ms);
  // A node that has been away for a long time neither overflows nor drops below the cap.
  EXPECT_EQ(p.delay(63), 2000ms);
  EXPECT_EQ(p.delay(4000000000u), 2000ms);
}

TEST(backoff_policy, custom_initial_and_cap) {
  const backoff_policy p{10ms, 1h};
  EXPECT_EQ(p.delay(0), 10ms);
  EXPECT_EQ(p.delay(10), 10240ms);
  EXPECT_EQ(p.delay(16), 655360ms);
  EXPECT_EQ(p.delay(17), 655360ms) << "the shift stops at 16";
  const backoff_policy tight{50ms, 120ms};
  EXPECT_EQ(tight.delay(1), 100ms);
  EXPECT_EQ(tight.delay(2), 120ms);
}

// --- cluster_view ------------------------------------------------------------------------------

topology three_nodes() {
  topology t;
  t.lost_after_ms = 1000;
  t.nodes = {
      node_spec{"alpha", "10.0.0.1", 4100, 4200, {"cpu"}, {}, 3},
      node_spec{"beta", "10.0.0.2", 4101, 0, {"cpu", "cuda:0"}, {}, 6},
      node_spec{"gamma", "10.0.0.3", 4102, 4202, {"cuda:1"}, {}, 9},
  };
  return t;
}

class cluster_view_test : public ::testing::Test {
protected:
  cluster_view view_{three_nodes(), "alpha"};
  // Taken after the view exists, so every made-up time lies after its construction.
  clock_type::time_point t0_ = clock_type::now();
};

TEST_F(cluster_view_test, starts_as_self_and_connecting_in_topology_order) {
  EXPECT_EQ(view_.state_of("alpha"), node_state::self);
  EXPECT_EQ(view_.state_of("beta"), node_state::connecting);
  EXPECT_EQ(view_.state_of("gamma"), node_state::connecting);
  EXPECT_EQ(view_.peers_in(node_state::connecting), (std::vector<std::string>{"beta", "gamma"}));
  EXPECT_TRUE(view_.peers_in(node_state::up).empty());
  EXPECT_TRUE(view_.peers_in(node_state::lost).empty());
  auto snap = view_.snapshot(t0_);
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[0].name, "alpha");
  EXPECT_EQ(snap[0].state, node_state::self);
  EXPECT_EQ(snap[0].host, "10.0.0.1");
  EXPECT_EQ(snap[0].port, 4100);
  EXPECT_EQ(snap[0].rpc_port, 4200);
  EXPECT_EQ(snap[1].name, "beta");
  EXPECT_EQ(snap[1].state, node_state::connecting);
  EXPECT_EQ(snap[1].devices, (std::vector<std::string>{"cpu", "cuda:0"}));
  EXPECT_EQ(snap[2].name, "gamma");
  EXPECT_EQ(snap[2].rpc_port, 4202);
}

TEST_F(cluster_view_test, unknown_nodes_are_ignored) {
  view_.on_connected("omega", t0_);
  view_.on_heartbeat("omega", t0_);
  EXPECT_FALSE(view_.on_connection_closed("omega", t0_));
  EXPECT_EQ(view_.state_of("omega"), node_state::connecting);
  EXPECT_EQ(view_.snapshot(t0_).size(), 3u);
  // An unknown node is retried at the slowest pace.
  EXPECT_EQ(view_.on_connect_failed("omega", t0_), backoff_policy{}.cap);
}

TEST_F(cluster_view_test, self_never_changes_state) {
  view_.on_connected("alpha", t0_);
  EXPECT_FALSE(view_.on_connection_closed("alpha", t0_));
  EXPECT_TRUE(view_.expire(t0_ + 1h).empty());
  EXPECT_EQ(view_.state_of("alpha"), node_state::self);
}

TEST_F(cluster_view_test, connected_then_silent_is_lost_exactly_once) {
  view_.on_connected("beta", t0_);
  EXPECT_EQ(view_.state_of("beta"), node_state::up);
  EXPECT_EQ(view_.peers_in(node_state::up), (std::vector<std::string>{"beta"}));
  // Silent for exactly lost_after_ms is still up; one millisecond more is lost.
  EXPECT_TRUE(view_.expire(t0_ + 1000ms).empty());
  EXPECT_EQ(view_.state_of("beta"), node_state::up);
  EXPECT_EQ(view_.expire(t0_ + 1001ms), (std::vector<std::string>{"beta"}));
  EXPECT_EQ(view_.state_of("beta"), node_state::lost);
  EXPECT_TRUE(view_.expire(t0_ + 1002ms).empty());
  EXPECT_TRUE(view_.expire(t0_ + 1h).empty());
  // A node that was never up is never reported lost: it is still being connected.
  EXPECT_EQ(view_.state_of("gamma"), node_state::connecting);
}

TEST_F(cluster_view_test, heartbeats_keep_a_node_up) {
  view_.on_connected("beta", t0_);
  for (auto t = 500ms; t <= 10s; t += 500ms) {
    view_.on_heartbeat("beta", t0_ + t);
    EXPECT_TRUE(view_.expire(t0_ + t + 900ms).empty()) << "at " << t.count() << " ms";
  }
  EXPECT_EQ(view_.state_of("beta"), node_state::up);
  EXPECT_EQ(view_.expire(t0_ + 10s + 1001ms), (std::vector<std::string>{"beta"}));
}

TEST_F(cluster_view_test, heartbeats_do_not_revive_a_node_that_is_not_up) {
  view_.on_heartbeat("gamma", t0_);
  EXPECT_EQ(view_.state_of("gamma"), node_state::connecting);
  view_.on_connected("beta", t0_);
  ASSERT_EQ(view_.expire(t0_ + 2s).size(), 1u);
  view_.on_heartbeat("beta", t0_ + 2s);
  EXPECT_EQ(view_.state_of("beta"), node_state::lost);
  // Only a new connection brings it back.
  view_.on_connected("beta", t0_ + 3s);
  EXPECT_EQ(view_.state_of("beta"), node_state::up);
  EXPECT_TRUE(view_.expire(t0_ + 3s + 1000ms).empty());
}

TEST_F(cluster_view_test, a_closed_connection_reports_up_to_lost_once) {
  EXPECT_FALSE(view_.on_connection_closed("beta", t0_)) << "connecting, not up";
  EXPECT_EQ(view_.state_of("beta"), node_state::connecting);
  view_.on_connected("beta", t0_);
  EXPECT_TRUE(view_.on_connection_closed("beta", t0_ + 10ms));
  EXPECT_EQ(view_.state_of("beta"), node_state::lost);
  EXPECT_FALSE(view_.on_connection_closed("beta", t0_ + 20ms));
  // Already lost: the heartbeat check does not report it a second time.
  EXPECT_TRUE(view_.expire(t0_ + 1h).empty());
  EXPECT_EQ(view_.peers_in(node_state::lost), (std::vector<std::string>{"beta"}));
}

TEST_F(cluster_view_test, failed_connects_back_off_and_a_connection_resets_them) {
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 7; ++i)
    delays.push_back(view_.on_connect_failed("beta", t0_));
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1600ms,
                                                            2000ms, 2000ms}));
  // Each peer backs off on its own.
  EXPECT_EQ(view_.on_connect_failed("gamma", t0_), 100ms);
  view_.on_connected("beta", t0_);
  EXPECT_EQ(view_.on_connect_failed("beta", t0_), 100ms);
}

TEST_F(cluster_view_test, custom_backoff_is_used) {
  cluster_view view{three_nodes(), "alpha", backoff_policy{5ms, 12ms}};
  EXPECT_EQ(view.on_connect_failed("beta", t0_), 5ms);
  EXPECT_EQ(view.on_connect_failed("beta", t0_), 10ms);
  EXPECT_EQ(view.on_connect_failed("beta", t0_), 12ms);
}

TEST_F(cluster_view_test, snapshot_reports_time_since_the_last_change) {
  view_.on_connected("beta", t0_ + 100ms);
  view_.on_heartbeat("beta", t0_ + 400ms); // not a change of state
  auto snap = view_.snapshot(t0_ + 350ms + 1000ms);
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[1].name, "beta");
  EXPECT_EQ(snap[1].state, node_state::up);
  EXPECT_EQ(snap[1].since_ms, 1250);
  // The others have not changed since the view was built, just before t0.
  EXPECT_GE(snap[0].since_ms, 1350);
  EXPECT_LT(snap[0].since_ms, 1350 + 60000);
  EXPECT_EQ(snap[0].since_ms, snap[2].since_ms);
  ASSERT_TRUE(view_.on_connection_closed("beta", t0_ + 2s));
  snap = view_.snapshot(t0_ + 2s + 5ms);
  EXPECT_EQ(snap[1].state, node_state::lost);
  EXPECT_EQ(snap[1].since_ms, 5);
  // The order is the topology's, whatever the states.
  EXPECT_EQ(snap[0].name, "alpha");
  EXPECT_EQ(snap[2].name, "gamma");
}

TEST(cluster_view_topology, built_from_a_parsed_file) {
  auto kinds = torch_free_actor_kinds();
  auto topo = parse_topology(R"(lost_after_ms: 300
heartbeat_ms: 100
nodes:
  - name: n1
    port: 4100
  - name: n2
    port: 4101
    devices: [cpu, "cuda:0"]
)",
                             "test.yaml", kinds);
  ASSERT_TRUE(topo) << describe(topo.error());
  cluster_view view{*topo, "n2"};
  const auto t0 = clock_type::now();
  EXPECT_EQ(view.state_of("n2"), node_state::self);
  view.on_connected("n1", t0);
  EXPECT_TRUE(view.expire(t0 + 300ms).empty());
  EXPECT_EQ(view.expire(t0 + 301ms), (std::vector<std::string>{"n1"}));
  auto snap = view.snapshot(t0);
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[1].devices, (std::vector<std::string>{"cpu", "cuda:0"}));
}

// --- the node manager actor --------------------------------------------------------------------

/// A kind that runs on the testing scheduler (device actors run detached, on threads of their
/// own, which the deterministic tests must not race with when actors stop).
actor_kind probe_kind() {
  actor_kind kind;
  kind.name = "probe";
  kind.help = "an event-based actor that echoes integers";
  kind.fields = {optional_key("color", config_type::string, "blue", "any word")};
  kind.spawn = [](spawn_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn(
        [](caf::event_based_actor*) -> caf::behavior { return {[](int32_t x) { return x; }}; });
  };
  return kind;
}

/// A kind with a secret in its config, as the HTTP gateway's admin token.
actor_kind vault_kind() {
  actor_kind kind = probe_kind();
  kind.name = "vault";
  kind.fields = {optional_key("token", config_type::string, "", "a secret"),
                 optional_key("admin_password", config_type::string, "", "another")};
  return kind;
}

class node_manager_test : public test::deterministic_fixture {
protected:
  void SetUp() override {
    kinds_ = torch_free_actor_kinds();
    kinds_.add(probe_kind());
    kinds_.add(vault_kind());
    auto topo = parse_topology(R"(cluster: unit
nodes:
  - name: solo
    port: 4100
    rpc_port: 4200
    devices: [cpu]
    actors:
      - {name: boot-probe, kind: probe, config: {color: red}}
)",
                               "solo.yaml", kinds_);
    ASSERT_TRUE(topo) << describe(topo.error());
    // The directory stops first: actors that end after it tell nobody (no cross-thread
    // messages into the testing scheduler from detached devices).
    dir_ = stop_at_end(spawn_directory(sys_));
    node_manager_config cfg{*topo, "solo", &kinds_, dir_, false};
    nm_ = stop_at_end(spawn_node_manager(sys_, std::move(cfg)));
    run();
  }

  caf::expected<actor_entry> spawn(spawn_request req) {
    return ask<actor_entry>(nm_, spawn_atom::value, std::move(req));
  }

  caf::expected<std::vector<actor_entry>> actors(const std::string& node = "") {
    return ask<std::vector<actor_entry>>(nm_, actors_atom::value, node);
  }

  std::vector<std::string> names(const std::string& node = "") {
    std::vector<std::string> out;
    auto xs = actors(node);
    EXPECT_TRUE(xs) << describe(xs.error());
    if (xs)
      for (const auto& x : *xs)
        out.push_back(x.name);
    return out;
  }

  /// The node manager still answers (a failed spawn or a stop must not take it down).
  void expect_alive() {
    auto p = ask<pong>(nm_, ping_atom::value);
    EXPECT_TRUE(p) << "the node manager stopped answering: " << describe(p.error());
  }

  actor_kind_table kinds_;
  directory_actor dir_;
  node_manager_actor nm_;
};

TEST_F(node_manager_test, ping_answers_with_the_node_name_and_pid) {
  auto p = ask<pong>(nm_, ping_atom::value);
  ASSERT_TRUE(p) << describe(p.error());
  EXPECT_EQ(p->node, "solo");
  EXPECT_EQ(p->pid, static_cast<uint32_t>(::getpid()));
  EXPECT_GE(p->uptime_ms, 0);
}

TEST_F(node_manager_test, nodes_lists_the_one_node_as_self) {
  auto ns = ask<std::vector<node_status>>(nm_, nodes_atom::value);
  ASSERT_TRUE(ns) << describe(ns.error());
  ASSERT_EQ(ns->size(), 1u);
  EXPECT_EQ((*ns)[0].name, "solo");
  EXPECT_EQ((*ns)[0].state, node_state::self);
  EXPECT_EQ((*ns)[0].port, 4100);
  EXPECT_EQ((*ns)[0].rpc_port, 4200);
  EXPECT_EQ((*ns)[0].devices, (std::vector<std::string>{"cpu"}));
}

TEST_F(node_manager_test, lists_itself_and_its_boot_actors) {
  auto xs = actors();
  ASSERT_TRUE(xs) << describe(xs.error());
  ASSERT_EQ(xs->size(), 2u);
  EXPECT_EQ((*xs)[0].name, "boot-probe");
  EXPECT_EQ((*xs)[0].kind, "probe");
  EXPECT_EQ((*xs)[0].node, "solo");
  EXPECT_EQ((*xs)[0].config, (std::map<std::string, std::string>{{"color", "red"}}));
  EXPECT_EQ((*xs)[1].name, "solo.manager");
  EXPECT_EQ((*xs)[1].kind, "node_manager");
  EXPECT_EQ((*xs)[1].node, "solo");
  EXPECT_EQ((*xs)[1].handle, caf::actor_cast<caf::actor>(nm_));
  EXPECT_EQ(names("solo"), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  EXPECT_TRUE(names("elsewhere").empty());
}

TEST_F(node_manager_test, hands_out_its_directory) {
  auto d = ask<directory_actor>(nm_, get_atom::value, directory_atom::value);
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_EQ(*d, dir_);
}

TEST_F(node_manager_test, spawned_device_is_registered_with_its_full_config) {
  auto e = spawn(spawn_request{"", "device", "cpu0", {{"threads", "2"}}});
  ASSERT_TRUE(e) << describe(e.error());
  EXPECT_EQ(e->name, "cpu0");
  EXPECT_EQ(e->kind, "device");
  EXPECT_EQ(e->node, "solo");
  const std::map<std::string, std::string> full{{"index", "0"}, {"threads", "2"}, {"type", "cpu"}};
  EXPECT_EQ(e->config, full) << "defaults are filled in";
  ASSERT_TRUE(e->handle);
  auto found = ask<actor_entry>(dir_, lookup_atom::value, std::string{"cpu0"});
  ASSERT_TRUE(found) << describe(found.error());
  EXPECT_EQ(found->handle, e->handle);
  EXPECT_EQ(found->config, full);
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "cpu0", "solo.manager"}));
}

TEST_F(node_manager_test, spawn_on_its_own_node_by_name_and_with_a_generated_name) {
  auto named = spawn(spawn_request{"solo", "probe", "p1", {}});
  ASSERT_TRUE(named) << describe(named.error());
  EXPECT_EQ(named->config, (std::map<std::string, std::string>{{"color", "blue"}}));
  auto unnamed = spawn(spawn_request{"", "probe", "", {}});
  ASSERT_TRUE(unnamed) << describe(unnamed.error());
  EXPECT_EQ(unnamed->name.rfind("probe-solo-", 0), 0u) << unnamed->name;
  auto another = spawn(spawn_request{"", "probe", "", {}});
  ASSERT_TRUE(another) << describe(another.error());
  EXPECT_NE(another->name, unnamed->name);
  EXPECT_EQ(names().size(), 5u);
  // The spawned actor is the one that answers.
  auto echo = ask<int32_t>(named->handle, int32_t{7});
  ASSERT_TRUE(echo);
  EXPECT_EQ(*echo, 7);
}

TEST_F(node_manager_test, names_that_would_leave_a_folder_are_refused) {
  for (const char* bad : {"..", ".", "../../x", "a/b", "x y"}) {
    auto msg = expect_error(spawn(spawn_request{"", "probe", bad, {}}), error_code::bad_params);
    EXPECT_NE(msg.find("not valid"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  auto dotted = spawn(spawn_request{"", "probe", "v1.2-a_b", {}});
  EXPECT_TRUE(dotted) << describe(dotted.error());
}

TEST_F(node_manager_test, listings_never_show_a_secret) {
  auto e = spawn(spawn_request{"", "vault", "v", {{"token", "hunter2"}, {"admin_password", "x"}}});
  ASSERT_TRUE(e) << describe(e.error());
  for (const auto& node : {std::string{}, std::string{"solo"}}) {
    auto xs = actors(node);
    ASSERT_TRUE(xs) << describe(xs.error());
    for (const auto& x : *xs)
      if (x.name == "v") {
        EXPECT_EQ(x.config.at("token"), "(redacted)");
        EXPECT_EQ(x.config.at("admin_password"), "(redacted)");
      }
  }
}

TEST_F(node_manager_test, unknown_kind_is_refused_with_the_known_ones) {
  auto msg = expect_error(spawn(spawn_request{"", "gpu", "g0", {}}), error_code::unknown_kind);
  EXPECT_NE(msg.find("'gpu'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("device"), std::string::npos) << msg;
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  expect_alive();
}

TEST_F(node_manager_test, bad_config_is_refused_naming_the_key) {
  auto msg = expect_error(spawn(spawn_request{"", "device", "cpu0", {{"threads", "abc"}}}),
                          error_code::bad_config);
  EXPECT_NE(msg.find("'threads'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'abc'"), std::string::npos) << msg;
  msg = expect_error(spawn(spawn_request{"", "device", "cpu0", {{"thread", "2"}}}),
                     error_code::bad_config);
  EXPECT_NE(msg.find("did you mean 'threads'"), std::string::npos) << msg;
  msg = expect_error(spawn(spawn_request{"", "device", "cpu0", {{"type", "tpu"}}}),
                     error_code::bad_config);
  EXPECT_NE(msg.find("'tpu'"), std::string::npos) << msg;
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  expect_alive();
}

TEST_F(node_manager_test, device_config_out_of_range_is_refused_not_fatal) {
  // Integers the schema accepts but a device cannot use.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"index", "99999999999"},
                                                        {"threads", "-1"},
                                                        {"threads", "0"},
                                                        {"threads", "99999999999"}}) {
    auto msg = expect_error(spawn(spawn_request{"", "device", "cpu0", {{key, value}}}),
                            error_code::bad_config);
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    expect_alive();
  }
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
}

TEST_F(node_manager_test, cuda_device_without_that_gpu_is_refused) {
  auto msg =
      expect_error(spawn(spawn_request{"", "device", "gpu9", {{"type", "cuda"}, {"index", "99"}}}),
                   error_code::bad_config);
  EXPECT_NE(msg.find("cuda index 99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("usable CUDA device(s)"), std::string::npos) << msg;
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
}

TEST_F(node_manager_test, a_name_taken_on_this_node_is_refused) {
  ASSERT_TRUE(spawn(spawn_request{"", "probe", "p1", {}}));
  auto msg = expect_error(spawn(spawn_request{"", "device", "p1", {}}), error_code::duplicate_name);
  EXPECT_NE(msg.find("'p1'"), std::string::npos) << msg;
  auto found = ask<actor_entry>(dir_, lookup_atom::value, std::string{"p1"});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, "probe") << "the first owner keeps the name";
  expect_alive();
}

TEST_F(node_manager_test, a_name_taken_in_the_directory_is_refused_and_the_spawn_undone) {
  // "solo.manager" is not a local actor, but the directory holds it.
  auto msg = expect_error(spawn(spawn_request{"", "probe", "solo.manager", {}}),
                          error_code::duplicate_name);
  EXPECT_NE(msg.find("'solo.manager'"), std::string::npos) << msg;
  expect_alive();
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  auto found = ask<actor_entry>(dir_, lookup_atom::value, std::string{"solo.manager"});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, "node_manager");
  // The name is not left half-taken on this node: after the clash it can be used elsewhere here.
  EXPECT_TRUE(spawn(spawn_request{"", "probe", "p2", {}}));
}

TEST_F(node_manager_test, spawn_on_a_node_outside_the_topology_is_refused) {
  auto msg =
      expect_error(spawn(spawn_request{"mars", "device", "cpu0", {}}), error_code::no_such_node);
  EXPECT_NE(msg.find("'mars'"), std::string::npos) << msg;
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
}

TEST_F(node_manager_test, stop_ends_the_actor_and_removes_it_from_the_directory) {
  auto e = spawn(spawn_request{"", "probe", "p1", {}});
  ASSERT_TRUE(e) << describe(e.error());
  auto stopped = ask<bool>(nm_, stop_atom::value, std::string{"p1"});
  ASSERT_TRUE(stopped) << describe(stopped.error());
  EXPECT_TRUE(*stopped);
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  expect_error(ask<actor_entry>(dir_, lookup_atom::value, std::string{"p1"}),
               error_code::no_such_actor);
  // The actor itself has ended.
  auto echo = ask<int32_t>(e->handle, int32_t{1});
  EXPECT_FALSE(echo);
  // Stopping one actor leaves the node manager serving.
  expect_alive();
  // Stopping it again: nobody of that name, here or in the directory.
  auto msg =
      expect_error(ask<bool>(nm_, stop_atom::value, std::string{"p1"}), error_code::no_such_actor);
  EXPECT_NE(msg.find("'p1'"), std::string::npos) << msg;
  // The name is free again.
  EXPECT_TRUE(spawn(spawn_request{"", "probe", "p1", {}}));
}

TEST_F(node_manager_test, stopping_a_boot_actor_works_like_any_other) {
  auto stopped = ask<bool>(nm_, stop_atom::value, std::string{"boot-probe"});
  ASSERT_TRUE(stopped) << describe(stopped.error());
  EXPECT_EQ(names(), (std::vector<std::string>{"solo.manager"}));
  expect_alive();
}

TEST_F(node_manager_test, an_actor_that_ends_on_its_own_frees_its_name) {
  auto e = spawn(spawn_request{"", "probe", "p1", {}});
  ASSERT_TRUE(e) << describe(e.error());
  caf::anon_send_exit(e->handle, caf::exit_reason::user_shutdown);
  run();
  expect_alive();
  EXPECT_EQ(names(), (std::vector<std::string>{"boot-probe", "solo.manager"}));
  EXPECT_TRUE(spawn(spawn_request{"", "probe", "p1", {}}));
}

TEST_F(node_manager_test, registers_system_actors_it_is_given) {
  auto gw = stop_at_end(sys_.spawn(
      [](caf::event_based_actor*) -> caf::behavior { return {[](int32_t x) { return x; }}; }));
  caf::anon_send(nm_, register_atom::value,
                 actor_entry{"solo.gateway", "gateway", "solo", {{"port", "4200"}}, gw});
  run();
  auto found = ask<actor_entry>(dir_, lookup_atom::value, std::string{"solo.gateway"});
  ASSERT_TRUE(found) << describe(found.error());
  EXPECT_EQ(found->handle, gw);
  EXPECT_EQ(found->kind, "gateway");
}

} // namespace
} // namespace llmos
