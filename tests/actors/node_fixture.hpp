// The deterministic fixture with one node around it: a real directory and node manager on a
// one-node topology ("solo", no peers, so no network), the torch-free actor kinds, and a fresh
// folder per test for the actors' state. Actors are spawned through the node manager, as a
// topology or `spawn` would, and their conversations run one message at a time on the test's
// thread (deterministic_fixture.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "deterministic_fixture.hpp"
#include "directory/directory_actor.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/runtime/topology.hpp"
#include "node_manager/node_manager_actor.hpp"

namespace llmos::test {

class node_fixture : public deterministic_fixture {
protected:
  void SetUp() override {
    kinds_ = kinds();
    auto topo = parse_topology("cluster: unit\nnodes:\n  - {name: solo, port: 4100}\n", "solo.yaml",
                               kinds_);
    ASSERT_TRUE(topo) << describe(topo.error());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() /
            ("llmos-" + std::string{info->test_suite_name()} + "-" + std::to_string(::getpid()) +
             "-" + info->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    // The directory stops first: actors that end after it tell nobody.
    dir_ = stop_at_end(spawn_directory(sys_));
    nm_ = stop_at_end(spawn_node_manager(sys_, {*topo, "solo", &kinds_, dir_, false}));
    run();
  }

  void TearDown() override {
    deterministic_fixture::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  /// The kinds the node can spawn: those without LibTorch unless a fixture says otherwise.
  virtual actor_kind_table kinds() { return torch_free_actor_kinds(); }

  /// Spawns `name` of `kind` on the node (stopped at the end); a null handle (and a failed
  /// test) when the node manager refuses.
  template <class Handle>
  Handle spawn_kind(const std::string& kind, const std::string& name,
                    std::map<std::string, std::string> config) {
    auto e =
        ask<actor_entry>(nm_, spawn_atom::value, spawn_request{"", kind, name, std::move(config)});
    EXPECT_TRUE(e) << describe(e.error());
    return e ? stop_at_end(caf::actor_cast<Handle>(e->handle)) : Handle{};
  }

  /// Stops `name` through the node manager, as `stop` over RPC would.
  void stop_actor(const std::string& name) {
    auto stopped = ask<bool>(nm_, stop_atom::value, name);
    EXPECT_TRUE(stopped) << describe(stopped.error());
    run();
  }

  actor_kind_table kinds_;
  std::filesystem::path root_; ///< this test's folder
  directory_actor dir_;
  node_manager_actor nm_;
};

} // namespace llmos::test
