// Supervision in a real node: an actor that goes down is restarted by its node under its
// restart policy, its name registered again, and its clients find the new one: `kill registry`
// (the exit a crash gives) brings the registry back from its folder; the HTTP gateway lists its
// versions again, and the server that follows `production` watches the new registry (an alias
// moved afterwards is deployed). `restart: never` stays down, `stop` is never undone, a bad
// policy is refused by name.
#include <filesystem>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../actors/model/formats_test_util.hpp"
#include "llama_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

bool listed(const llama_node& n, const std::string& name) {
  const auto all = rpc_call(n.rpc, "actors", json::array());
  if (!all.is_array())
    return false;
  for (const auto& e : all)
    if (e.value("name", "") == name)
      return true;
  return false;
}

TEST(supervision, a_killed_actor_is_restarted_and_its_clients_find_the_new_one) {
  llama_node n;
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories());
  httplib::Client web("127.0.0.1", n.http);
  web.set_read_timeout(60, 0);
  auto versions_listed = [&] {
    auto r = web.Get("/v1/models/stories");
    return r && r->status == 200 && r->body.find("\"versions\"") != std::string::npos &&
           !json::parse(r->body).value("versions", json::array()).empty();
  };
  ASSERT_TRUE(wait_until(versions_listed, 30s)) << n.log();
  auto server_version = [&] {
    auto st = n.send(json::array({"stories-server", "status", json::object()}));
    return st.value("version", 0);
  };
  ASSERT_TRUE(wait_until([&] { return server_version() == 1; }, 30s)) << n.log();

  // kill: the registry ends as a crash would end it; its node restarts it (on-failure is the
  // default) and registers the name again.
  auto killed = rpc_call(n.rpc, "kill", json::array({"registry"}));
  ASSERT_EQ(killed, true) << killed.dump();
  ASSERT_TRUE(wait_until(
      [&] { return n.log().find("actor 'registry' restarted") != std::string::npos; }, 10s))
      << n.log();
  ASSERT_TRUE(wait_until([&] { return listed(n, "registry"); }, 10s));
  // The gateway's cached handle was the dead registry's: it finds the new one.
  ASSERT_TRUE(wait_until(versions_listed, 10s)) << n.log();
  // The server watches the new registry: an alias moved now is deployed.
  auto v2 = n.send(json::array({"registry",
                                "import",
                                {{"model", "stories"},
                                 {"format", "llama2c"},
                                 {"path", stories260k_dir(nullptr) + "/stories260K.bin"}}}));
  ASSERT_EQ(v2.value("version", 0), 2) << v2.dump();
  ASSERT_TRUE(wait_until(
      [&] { return n.log().find("watching the registry again") != std::string::npos; }, 10s))
      << n.log();
  auto moved = n.send(json::array(
      {"registry", "alias", {{"model", "stories"}, {"alias", "production"}, {"version", "2"}}}));
  ASSERT_FALSE(moved.contains("error")) << moved.dump();
  EXPECT_TRUE(wait_until([&] { return server_version() == 2; }, 30s))
      << "the server did not follow the alias on the restarted registry\n"
      << n.log();

  // Spawned actors take `restart` among their keys: never stays down; stop is for good.
  const auto root = (n.dir / "spare").string();
  auto bad = rpc_call(
      n.rpc, "spawn",
      json::array(
          {"a", "registry", {{"name", "spare"}, {"root", root}, {"restart", "sometimes"}}}));
  EXPECT_NE(bad.dump().find("'sometimes'"), std::string::npos) << bad.dump();
  auto never = rpc_call(
      n.rpc, "spawn",
      json::array({"a", "registry", {{"name", "spare"}, {"root", root}, {"restart", "never"}}}));
  ASSERT_FALSE(never.contains("error")) << never.dump();
  ASSERT_EQ(rpc_call(n.rpc, "kill", json::array({"spare"})), true);
  ASSERT_TRUE(wait_until([&] { return !listed(n, "spare"); }, 10s));
  std::this_thread::sleep_for(1s); // longer than the first back-off
  EXPECT_FALSE(listed(n, "spare")) << "restart: never came back";
  auto again =
      rpc_call(n.rpc, "spawn", json::array({"a", "registry", {{"name", "spare"}, {"root", root}}}));
  ASSERT_FALSE(again.contains("error")) << again.dump();
  ASSERT_EQ(rpc_call(n.rpc, "stop", json::array({"spare"})), true);
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(listed(n, "spare")) << "a stopped actor came back";
  EXPECT_EQ(n.log().find("'spare' restarted"), std::string::npos) << n.log();
}

} // namespace
