// The directory: the name_table bookkeeping on its own, then the directory actor's conversation
// (register, lookup, list, unregister, watchers, entries that vanish when their actor goes down)
// driven one message at a time by the testing scheduler.
#include <memory>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <gtest/gtest.h>

#include "deterministic_fixture.hpp"
#include "directory/directory_actor.hpp"
#include "directory/name_table.hpp"

namespace llmos {
namespace {

class directory_test : public test::deterministic_fixture {
protected:
  /// An actor that only exists to be named; it ends at the end of the test.
  caf::actor spawn_worker() {
    return stop_at_end(sys_.spawn([]() -> caf::behavior { return {[](int32_t x) { return x; }}; }));
  }

  actor_entry entry(const std::string& name, const std::string& node, caf::actor handle) {
    return actor_entry{name, "device", node, {{"type", "cpu"}}, std::move(handle)};
  }

  /// Registers `e` and returns whether the directory answered true (errors are printed).
  bool registers(const directory_actor& dir, actor_entry e) {
    auto r = ask<bool>(dir, register_atom::value, std::move(e));
    EXPECT_TRUE(r) << describe(r.error());
    return r && *r;
  }

  static std::vector<std::string> names_of(const std::vector<actor_entry>& xs) {
    std::vector<std::string> out;
    for (const auto& x : xs)
      out.push_back(x.name);
    return out;
  }

  /// A watcher that records every directory event it receives.
  caf::actor spawn_watcher(std::shared_ptr<std::vector<directory_event>> events) {
    return stop_at_end(sys_.spawn([events](caf::event_based_actor*) -> caf::behavior {
      return {[events](dir_event_atom, const directory_event& e) { events->push_back(e); }};
    }));
  }
};

// --- name_table --------------------------------------------------------------------------------

TEST_F(directory_test, table_adds_and_finds_by_name) {
  name_table table;
  auto w = spawn_worker();
  EXPECT_FALSE(table.add(entry("cpu0", "alpha", w)));
  EXPECT_EQ(table.size(), 1u);
  auto found = table.find("cpu0");
  ASSERT_TRUE(found) << describe(found.error());
  EXPECT_EQ(found->name, "cpu0");
  EXPECT_EQ(found->node, "alpha");
  EXPECT_EQ(found->config.at("type"), "cpu");
  EXPECT_EQ(found->handle, w);
  auto missing = table.find("gpu7");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), static_cast<uint8_t>(error_code::no_such_actor));
  EXPECT_NE(describe(missing.error()).find("'gpu7'"), std::string::npos);
}

TEST_F(directory_test, table_refuses_a_taken_name_and_keeps_the_first) {
  name_table table;
  auto first = spawn_worker();
  ASSERT_FALSE(table.add(entry("cpu0", "alpha", first)));
  auto err = table.add(actor_entry{"cpu0", "trainer", "beta", {}, spawn_worker()});
  ASSERT_TRUE(err);
  EXPECT_EQ(err.category(), error_category);
  EXPECT_EQ(err.code(), static_cast<uint8_t>(error_code::duplicate_name));
  // The message names the clash and who holds the name, so the user can pick another.
  const auto msg = describe(err);
  EXPECT_NE(msg.find("'cpu0'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'alpha'"), std::string::npos) << msg;
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find("cpu0")->handle, first);
  EXPECT_EQ(table.find("cpu0")->kind, "device");
}

TEST_F(directory_test, the_same_actor_registered_again_is_accepted) {
  // A node re-registers everything after reaching a restarted seed; entries the directory still
  // holds come again from the same node with the same handle.
  name_table table;
  auto w = spawn_worker();
  ASSERT_FALSE(table.add(entry("cpu0", "alpha", w)));
  EXPECT_FALSE(table.add(entry("cpu0", "alpha", w)));
  EXPECT_EQ(table.size(), 1u);
  // The same name from the same node with another handle is another actor: refused.
  EXPECT_TRUE(table.add(entry("cpu0", "alpha", spawn_worker())));
  EXPECT_EQ(table.find("cpu0")->handle, w);
}

TEST_F(directory_test, table_removes_by_name_once) {
  name_table table;
  ASSERT_FALSE(table.add(entry("cpu0", "alpha", spawn_worker())));
  ASSERT_FALSE(table.add(entry("cpu1", "alpha", spawn_worker())));
  auto removed = table.remove("cpu0");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->name, "cpu0");
  EXPECT_FALSE(table.find("cpu0"));
  EXPECT_TRUE(table.find("cpu1"));
  auto again = table.remove("cpu0");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), static_cast<uint8_t>(error_code::no_such_actor));
  EXPECT_NE(describe(again.error()).find("'cpu0'"), std::string::npos);
  // A removed name is free again.
  EXPECT_FALSE(table.add(entry("cpu0", "beta", spawn_worker())));
}

TEST_F(directory_test, table_removes_a_lost_node) {
  name_table table;
  ASSERT_FALSE(table.add(entry("a1", "alpha", spawn_worker())));
  ASSERT_FALSE(table.add(entry("b1", "beta", spawn_worker())));
  ASSERT_FALSE(table.add(entry("a2", "alpha", spawn_worker())));
  auto removed = table.remove_node("alpha");
  EXPECT_EQ(names_of(removed), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(names_of(table.list("")), (std::vector<std::string>{"b1"}));
  EXPECT_TRUE(table.remove_node("alpha").empty());
  EXPECT_TRUE(table.remove_node("gamma").empty());
}

TEST_F(directory_test, table_removes_every_name_of_a_dead_actor) {
  name_table table;
  auto shared = spawn_worker();
  auto other = spawn_worker();
  ASSERT_FALSE(table.add(entry("x", "alpha", shared)));
  ASSERT_FALSE(table.add(entry("alias", "alpha", shared)));
  ASSERT_FALSE(table.add(entry("y", "alpha", other)));
  auto removed = table.remove_address(shared.address());
  EXPECT_EQ(names_of(removed), (std::vector<std::string>{"alias", "x"}));
  EXPECT_EQ(names_of(table.list("")), (std::vector<std::string>{"y"}));
  EXPECT_TRUE(table.remove_address(shared.address()).empty());
}

TEST_F(directory_test, table_lists_sorted_and_filtered_by_node) {
  name_table table;
  for (const auto& [name, node] : std::vector<std::pair<std::string, std::string>>{
           {"zeta", "alpha"}, {"beta1", "beta"}, {"alpha9", "alpha"}, {"mid", "beta"}})
    ASSERT_FALSE(table.add(entry(name, node, spawn_worker())));
  EXPECT_EQ(names_of(table.list("")), (std::vector<std::string>{"alpha9", "beta1", "mid", "zeta"}));
  EXPECT_EQ(names_of(table.list("alpha")), (std::vector<std::string>{"alpha9", "zeta"}));
  EXPECT_EQ(names_of(table.list("beta")), (std::vector<std::string>{"beta1", "mid"}));
  EXPECT_TRUE(table.list("gamma").empty());
}

// --- the directory actor -----------------------------------------------------------------------

TEST_F(directory_test, register_then_lookup) {
  auto dir = stop_at_end(spawn_directory(sys_));
  auto w = spawn_worker();
  auto ok = ask<bool>(dir, register_atom::value, entry("cpu0", "alpha", w));
  ASSERT_TRUE(ok) << describe(ok.error());
  EXPECT_TRUE(*ok);
  auto found = ask<actor_entry>(dir, lookup_atom::value, std::string{"cpu0"});
  ASSERT_TRUE(found) << describe(found.error());
  EXPECT_EQ(found->name, "cpu0");
  EXPECT_EQ(found->kind, "device");
  EXPECT_EQ(found->node, "alpha");
  EXPECT_EQ(found->config, (std::map<std::string, std::string>{{"type", "cpu"}}));
  EXPECT_EQ(found->handle, w);
  auto msg = expect_error(ask<actor_entry>(dir, lookup_atom::value, std::string{"nope"}),
                          error_code::no_such_actor);
  EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
}

TEST_F(directory_test, register_refuses_a_taken_name_and_an_entry_without_handle) {
  auto dir = stop_at_end(spawn_directory(sys_));
  auto first = spawn_worker();
  ASSERT_TRUE(registers(dir, entry("cpu0", "alpha", first)));
  auto msg =
      expect_error(ask<bool>(dir, register_atom::value, entry("cpu0", "beta", spawn_worker())),
                   error_code::duplicate_name);
  EXPECT_NE(msg.find("'cpu0'"), std::string::npos) << msg;
  EXPECT_EQ(ask<actor_entry>(dir, lookup_atom::value, std::string{"cpu0"})->handle, first);
  msg = expect_error(ask<bool>(dir, register_atom::value, entry("ghost", "alpha", caf::actor{})),
                     error_code::bad_params);
  EXPECT_NE(msg.find("'ghost'"), std::string::npos) << msg;
  EXPECT_FALSE(ask<actor_entry>(dir, lookup_atom::value, std::string{"ghost"}));
}

TEST_F(directory_test, lists_all_actors_or_one_nodes) {
  auto dir = stop_at_end(spawn_directory(sys_));
  ASSERT_TRUE(registers(dir, entry("b-dev", "beta", spawn_worker())));
  ASSERT_TRUE(registers(dir, entry("a-dev", "alpha", spawn_worker())));
  ASSERT_TRUE(registers(dir, entry("a-mgr", "alpha", spawn_worker())));
  auto all = ask<std::vector<actor_entry>>(dir, actors_atom::value, std::string{});
  ASSERT_TRUE(all);
  EXPECT_EQ(names_of(*all), (std::vector<std::string>{"a-dev", "a-mgr", "b-dev"}));
  auto alpha = ask<std::vector<actor_entry>>(dir, actors_atom::value, std::string{"alpha"});
  ASSERT_TRUE(alpha);
  EXPECT_EQ(names_of(*alpha), (std::vector<std::string>{"a-dev", "a-mgr"}));
  auto none = ask<std::vector<actor_entry>>(dir, actors_atom::value, std::string{"gamma"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(directory_test, unregister_removes_the_name_once) {
  auto dir = stop_at_end(spawn_directory(sys_));
  ASSERT_TRUE(registers(dir, entry("cpu0", "alpha", spawn_worker())));
  auto removed = ask<bool>(dir, unregister_atom::value, std::string{"cpu0"});
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  expect_error(ask<actor_entry>(dir, lookup_atom::value, std::string{"cpu0"}),
               error_code::no_such_actor);
  auto again = ask<bool>(dir, unregister_atom::value, std::string{"cpu0"});
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  // The name can be taken again.
  EXPECT_TRUE(registers(dir, entry("cpu0", "beta", spawn_worker())));
}

TEST_F(directory_test, watchers_hear_of_every_registration_and_removal) {
  auto dir = stop_at_end(spawn_directory(sys_));
  auto events = std::make_shared<std::vector<directory_event>>();
  caf::anon_send(dir, watch_atom::value, spawn_watcher(events));
  run();
  ASSERT_TRUE(registers(dir, entry("cpu0", "alpha", spawn_worker())));
  ASSERT_TRUE(registers(dir, entry("cpu1", "alpha", spawn_worker())));
  // A refused registration changes nothing, so nobody hears of it.
  ASSERT_FALSE(ask<bool>(dir, register_atom::value, entry("cpu1", "beta", spawn_worker())));
  auto removed = ask<bool>(dir, unregister_atom::value, std::string{"cpu0"});
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_TRUE((*events)[0].added);
  EXPECT_EQ((*events)[0].entry.name, "cpu0");
  EXPECT_EQ((*events)[0].entry.config.at("type"), "cpu");
  EXPECT_TRUE((*events)[1].added);
  EXPECT_EQ((*events)[1].entry.name, "cpu1");
  EXPECT_EQ((*events)[1].entry.node, "alpha");
  EXPECT_FALSE((*events)[2].added);
  EXPECT_EQ((*events)[2].entry.name, "cpu0");
  EXPECT_EQ((*events)[2].reason, "stopped");
}

TEST_F(directory_test, an_actor_that_goes_down_leaves_the_directory) {
  auto dir = stop_at_end(spawn_directory(sys_));
  auto events = std::make_shared<std::vector<directory_event>>();
  caf::anon_send(dir, watch_atom::value, spawn_watcher(events));
  auto doomed = spawn_worker();
  auto survivor = spawn_worker();
  ASSERT_TRUE(registers(dir, entry("doomed", "alpha", doomed)));
  ASSERT_TRUE(registers(dir, entry("doomed-alias", "beta", doomed)));
  ASSERT_TRUE(registers(dir, entry("survivor", "alpha", survivor)));
  events->clear();
  caf::anon_send_exit(doomed, caf::exit_reason::user_shutdown);
  run();
  auto all = ask<std::vector<actor_entry>>(dir, actors_atom::value, std::string{});
  ASSERT_TRUE(all);
  EXPECT_EQ(names_of(*all), (std::vector<std::string>{"survivor"}));
  expect_error(ask<actor_entry>(dir, lookup_atom::value, std::string{"doomed"}),
               error_code::no_such_actor);
  ASSERT_EQ(events->size(), 2u);
  std::vector<std::string> gone;
  for (const auto& e : *events) {
    EXPECT_FALSE(e.added);
    EXPECT_EQ(e.reason.rfind("down", 0), 0u) << e.reason;
    EXPECT_NE(e.reason.find("user_shutdown"), std::string::npos) << e.reason;
    gone.push_back(e.entry.name);
  }
  EXPECT_EQ(gone, (std::vector<std::string>{"doomed", "doomed-alias"}));
  // The name of a dead actor is free for a new one.
  EXPECT_TRUE(registers(dir, entry("doomed", "alpha", spawn_worker())));
}

TEST_F(directory_test, a_watcher_that_goes_down_is_forgotten_and_others_still_hear) {
  auto dir = stop_at_end(spawn_directory(sys_));
  auto early = std::make_shared<std::vector<directory_event>>();
  auto late = std::make_shared<std::vector<directory_event>>();
  auto early_watcher = spawn_watcher(early);
  caf::anon_send(dir, watch_atom::value, early_watcher);
  caf::anon_send(dir, watch_atom::value, spawn_watcher(late));
  ASSERT_TRUE(registers(dir, entry("a", "alpha", spawn_worker())));
  caf::anon_send_exit(early_watcher, caf::exit_reason::user_shutdown);
  run();
  ASSERT_TRUE(registers(dir, entry("b", "alpha", spawn_worker())));
  EXPECT_EQ(early->size(), 1u);
  ASSERT_EQ(late->size(), 2u);
  EXPECT_EQ((*late)[1].entry.name, "b");
}

} // namespace
} // namespace llmos
