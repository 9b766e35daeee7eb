// The msgpack-RPC dispatcher against a real node manager and directory (one node, no sockets):
// each built-in method answers with the packed shape docs/rpc.md promises, mutating methods need
// authentication, and bad calls are refused with the code and the argument they got wrong. The
// gateway's bounds and call limits over sockets are in rpc_bounds_test.cpp.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "directory/directory_actor.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/actors/method_table.hpp"
#include "llmos/kernels/gelu.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/runtime/topology.hpp"
#include "node_manager/node_manager_actor.hpp"
#include "rpc_test_params.hpp"
#include "threaded_system.hpp"

namespace llmos {
namespace {

using test::object_map;
using test::params;
using test::string_map;

std::vector<float> cpu_gelu(const std::vector<float>& in) {
  std::vector<float> out(in.size());
  kernels::gelu_forward_cpu(out.data(), in.data(), in.size());
  return out;
}

class rpc_dispatcher_test : public ::testing::Test {
protected:
  rpc_dispatcher_test() {
    auto topo = parse_topology(R"(nodes:
  - name: solo
    port: 4100
    rpc_port: 4200
)",
                               "solo.yaml", kinds_);
    EXPECT_TRUE(topo) << describe(topo.error());
    dir_ = spawn_directory(sys_);
    nm_ = spawn_node_manager(sys_, node_manager_config{*topo, "solo", &kinds_, dir_, false});
    dispatcher_ =
        spawn_rpc_dispatcher(sys_, nm_, std::make_shared<const method_table>(builtin_methods()));
  }

  ~rpc_dispatcher_test() override {
    // The directory and the node manager hold each other: they end only when told to.
    caf::anon_send_exit(dispatcher_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(nm_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dir_, caf::exit_reason::user_shutdown);
  }

  /// One RPC call as the gateway's broker makes it; the packed result or the error.
  caf::expected<std::string> call(const std::string& method, const std::string& packed,
                                  bool authenticated = false) {
    caf::expected<std::string> result{caf::make_error(caf::sec::request_timeout)};
    self_
        ->request(dispatcher_, std::chrono::seconds(10), rpc_call_atom::value, method, packed,
                  authenticated, uint64_t{0})
        .receive([&](std::string& x) { result = std::move(x); },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Calls and unpacks a result that must succeed.
  msgpack::object_handle ok(const std::string& method, const std::string& packed,
                            bool authenticated = false) {
    auto result = call(method, packed, authenticated);
    if (!result) {
      ADD_FAILURE() << method << " failed: " << describe(result.error());
      return msgpack::object_handle{};
    }
    return msgpack::unpack(result->data(), result->size());
  }

  /// Calls, expects error `code` and returns its message.
  std::string refused(const std::string& method, const std::string& packed, error_code code,
                      bool authenticated = false) {
    auto result = call(method, packed, authenticated);
    if (result) {
      ADD_FAILURE() << method << " should have failed with " << to_string(code);
      return "";
    }
    EXPECT_EQ(result.error().category(), error_category) << describe(result.error());
    EXPECT_EQ(result.error().code(), static_cast<uint8_t>(code)) << describe(result.error());
    return describe(result.error());
  }

  std::vector<std::string> actor_names() {
    auto oh = ok("actors", params());
    std::vector<std::string> out;
    for (auto& e : oh.get().as<std::vector<object_map>>())
      out.push_back(e.at("name").as<std::string>());
    return out;
  }

  /// The spawned actor's entry. A handle, not an object_map: the map's values point into the
  /// handle's memory (ThreadSanitizer caught a read after it was freed).
  msgpack::object_handle spawn_device(const std::string& name, const string_map& config = {}) {
    auto with_name = config;
    with_name["name"] = name;
    return ok("spawn", params(std::string{"solo"}, std::string{"device"}, with_name), true);
  }

  actor_kind_table kinds_ = torch_free_actor_kinds();
  test::threaded_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  directory_actor dir_;
  node_manager_actor nm_;
  caf::actor dispatcher_;
};

TEST_F(rpc_dispatcher_test, ping_names_the_node) {
  auto oh = ok("ping", params());
  auto m = oh.get().as<object_map>();
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("node").as<std::string>(), "solo");
  EXPECT_EQ(m.at("pid").as<uint32_t>(), static_cast<uint32_t>(::getpid()));
  EXPECT_GE(m.at("uptime_ms").as<int64_t>(), 0);
}

TEST_F(rpc_dispatcher_test, nodes_lists_this_node_as_self) {
  auto oh = ok("nodes", params());
  auto nodes = oh.get().as<std::vector<object_map>>();
  ASSERT_EQ(nodes.size(), 1u);
  auto& n = nodes[0];
  EXPECT_EQ(n.at("name").as<std::string>(), "solo");
  EXPECT_EQ(n.at("state").as<std::string>(), "self");
  EXPECT_EQ(n.at("host").as<std::string>(), "127.0.0.1");
  EXPECT_EQ(n.at("port").as<uint16_t>(), 4100);
  EXPECT_EQ(n.at("rpc_port").as<uint16_t>(), 4200);
  EXPECT_EQ(n.at("devices").as<std::vector<std::string>>(), (std::vector<std::string>{"cpu"}));
  EXPECT_GE(n.at("since_ms").as<int64_t>(), 0);
}

TEST_F(rpc_dispatcher_test, actors_lists_the_node_manager_with_every_field) {
  auto oh = ok("actors", params());
  auto xs = oh.get().as<std::vector<object_map>>();
  ASSERT_EQ(xs.size(), 1u);
  EXPECT_EQ(xs[0].at("name").as<std::string>(), "solo.manager");
  EXPECT_EQ(xs[0].at("kind").as<std::string>(), "node_manager");
  EXPECT_EQ(xs[0].at("node").as<std::string>(), "solo");
  EXPECT_TRUE(xs[0].at("config").as<string_map>().empty());
  auto mine = ok("actors", params(std::string{"solo"}));
  EXPECT_EQ(mine.get().as<std::vector<object_map>>().size(), 1u);
  auto other = ok("actors", params(std::string{"mars"}));
  EXPECT_TRUE(other.get().as<std::vector<object_map>>().empty());
  auto msg = refused("actors", params(7), error_code::bad_params);
  EXPECT_NE(msg.find("actors: argument 1 (NODE) must be a string, got integer"), std::string::npos)
      << msg;
}

TEST_F(rpc_dispatcher_test, methods_lists_the_table) {
  auto oh = ok("methods", params());
  auto ms = oh.get().as<std::vector<object_map>>();
  std::map<std::pair<std::string, std::string>, bool> mutates;
  for (auto& m : ms) {
    EXPECT_FALSE(m.at("usage").as<std::string>().empty());
    EXPECT_FALSE(m.at("help").as<std::string>().empty());
    mutates[{m.at("kind").as<std::string>(), m.at("name").as<std::string>()}] =
        m.at("mutates").as<bool>();
  }
  const std::map<std::pair<std::string, std::string>, bool> want{
      {{"", "actors"}, false}, {{"", "methods"}, false},    {{"", "nodes"}, false},
      {{"", "ping"}, false},   {{"", "send"}, false},       {{"", "spawn"}, true},
      {{"", "stop"}, true},    {{"device", "gelu"}, false}, {{"device", "info"}, false},
  };
  for (const auto& [key, flag] : want) {
    auto i = mutates.find(key);
    ASSERT_NE(i, mutates.end()) << "missing " << key.first << " " << key.second;
    EXPECT_EQ(i->second, flag) << key.first << " " << key.second << ": mutates";
  }
  // Node methods come first, then each kind's; the listing is sorted by (kind, name).
  ASSERT_GE(ms.size(), want.size());
  EXPECT_EQ(ms.front().at("kind").as<std::string>(), "");
  for (std::size_t i = 1; i < ms.size(); ++i) {
    const auto prev = std::make_pair(ms[i - 1].at("kind").as<std::string>(),
                                     ms[i - 1].at("name").as<std::string>());
    const auto cur =
        std::make_pair(ms[i].at("kind").as<std::string>(), ms[i].at("name").as<std::string>());
    EXPECT_LT(prev, cur);
  }
}

TEST_F(rpc_dispatcher_test, unknown_method_is_refused) {
  auto msg = refused("frobnicate", params(), error_code::no_such_method);
  EXPECT_NE(msg.find("'frobnicate'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("methods"), std::string::npos) << "points to the list: " << msg;
  // Actor methods are not node methods.
  refused("gelu", params(), error_code::no_such_method);
}

TEST_F(rpc_dispatcher_test, params_that_are_not_msgpack_are_refused) {
  auto msg = refused("ping", std::string{"\xc1", 1}, error_code::bad_params);
  EXPECT_NE(msg.find("not msgpack"), std::string::npos) << msg;
}

TEST_F(rpc_dispatcher_test, spawn_needs_authentication) {
  auto msg = refused("spawn", params(std::string{"solo"}, std::string{"device"}),
                     error_code::unauthorized);
  EXPECT_NE(msg.find("spawn"), std::string::npos) << msg;
  EXPECT_NE(msg.find("auth"), std::string::npos) << msg;
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"solo.manager"}));
}

TEST_F(rpc_dispatcher_test, spawn_with_authentication_starts_and_lists_the_actor) {
  auto oh = spawn_device("cpu0", {{"threads", "2"}});
  ASSERT_EQ(oh.get().type, msgpack::type::MAP);
  auto e = oh.get().as<object_map>();
  EXPECT_EQ(e.at("name").as<std::string>(), "cpu0");
  EXPECT_EQ(e.at("kind").as<std::string>(), "device");
  EXPECT_EQ(e.at("node").as<std::string>(), "solo");
  // "name" names the actor; it is not part of the config.
  EXPECT_EQ(e.at("config").as<string_map>(),
            (string_map{{"index", "0"}, {"threads", "2"}, {"type", "cpu"}}));
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"cpu0", "solo.manager"}));
}

TEST_F(rpc_dispatcher_test, spawn_accepts_numbers_for_config_values) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_array(3);
  pk.pack(std::string{"solo"}).pack(std::string{"device"});
  pk.pack_map(2);
  pk.pack(std::string{"name"}).pack(std::string{"cpu1"});
  pk.pack(std::string{"threads"}).pack(3);
  auto oh = ok("spawn", std::string{buf.data(), buf.size()}, true);
  EXPECT_EQ(oh.get().as<object_map>().at("config").as<string_map>().at("threads"), "3");
}

TEST_F(rpc_dispatcher_test, spawn_with_bad_params_names_the_argument) {
  auto msg = refused("spawn", params(7, std::string{"device"}), error_code::bad_params, true);
  EXPECT_NE(msg.find("spawn: argument 1 (NODE) must be a string, got integer"), std::string::npos)
      << msg;
  msg = refused("spawn", params(std::string{"solo"}), error_code::bad_params, true);
  EXPECT_NE(msg.find("argument 2 (KIND) must be a string, got nothing"), std::string::npos) << msg;
  msg = refused("spawn", params(std::string{"solo"}, std::string{"device"}, 5),
                error_code::bad_params, true);
  EXPECT_NE(msg.find("argument 3"), std::string::npos) << msg;
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"solo.manager"}));
}

TEST_F(rpc_dispatcher_test, spawn_errors_of_the_node_manager_reach_the_client) {
  auto msg = refused(
      "spawn", params(std::string{"solo"}, std::string{"device"}, string_map{{"threads", "abc"}}),
      error_code::bad_config, true);
  EXPECT_NE(msg.find("'threads'"), std::string::npos) << msg;
  refused("spawn", params(std::string{"solo"}, std::string{"tpu"}), error_code::unknown_kind, true);
  refused("spawn", params(std::string{"mars"}, std::string{"device"}), error_code::no_such_node,
          true);
  spawn_device("cpu0");
  refused("spawn", params(std::string{"solo"}, std::string{"device"}, string_map{{"name", "cpu0"}}),
          error_code::duplicate_name, true);
}

TEST_F(rpc_dispatcher_test, send_gelu_returns_the_cpu_kernels_values) {
  spawn_device("cpu0");
  const std::vector<float> in{0.0f, 1.0f, -1.0f, 0.5f, -2.5f, 3.0f};
  auto oh = ok("send", params(std::string{"cpu0"}, std::string{"gelu"},
                              std::map<std::string, std::vector<float>>{{"values", in}}));
  auto m = oh.get().as<object_map>();
  EXPECT_EQ(m.at("shape").as<std::vector<int64_t>>(), (std::vector<int64_t>{6}));
  const auto want = cpu_gelu(in);
  EXPECT_EQ(m.at("values").as<std::vector<float>>(), want);
  EXPECT_NEAR(m.at("values").as<std::vector<float>>().at(1), 0.841192f, 1e-5);
  const auto& bin = m.at("data");
  ASSERT_EQ(bin.type, msgpack::type::BIN);
  ASSERT_EQ(bin.via.bin.size, want.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(bin.via.bin.ptr, want.data(), bin.via.bin.size), 0);
}

TEST_F(rpc_dispatcher_test, send_gelu_takes_a_lone_number_as_a_one_element_tensor) {
  spawn_device("cpu0");
  auto oh = ok("send", params(std::string{"cpu0"}, std::string{"gelu"},
                              std::map<std::string, double>{{"values", 1.0}}));
  auto m = oh.get().as<object_map>();
  EXPECT_EQ(m.at("shape").as<std::vector<int64_t>>(), (std::vector<int64_t>{1}));
  EXPECT_NEAR(m.at("values").as<std::vector<float>>().at(0), 0.841192f, 1e-5);
  auto msg = refused("send",
                     params(std::string{"cpu0"}, std::string{"gelu"},
                            std::map<std::string, std::string>{{"values", "abc"}}),
                     error_code::bad_params);
  EXPECT_NE(msg.find("must be a number or an array of numbers, got string"), std::string::npos)
      << msg;
}

TEST_F(rpc_dispatcher_test, send_gelu_takes_binary_data_with_a_shape) {
  spawn_device("cpu0");
  std::vector<float> in(100);
  for (std::size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<float>(i) / 10.0f - 5.0f;
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_array(3);
  pk.pack(std::string{"cpu0"}).pack(std::string{"gelu"});
  pk.pack_map(2);
  pk.pack(std::string{"shape"}).pack(std::vector<int64_t>{10, 10});
  pk.pack(std::string{"data"});
  pk.pack_bin(static_cast<uint32_t>(in.size() * sizeof(float)));
  pk.pack_bin_body(reinterpret_cast<const char*>(in.data()),
                   static_cast<uint32_t>(in.size() * sizeof(float)));
  auto oh = ok("send", std::string{buf.data(), buf.size()});
  auto m = oh.get().as<object_map>();
  EXPECT_EQ(m.at("shape").as<std::vector<int64_t>>(), (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(m.count("values"), 0u) << "large tensors come back as bin only";
  const auto want = cpu_gelu(in);
  const auto& bin = m.at("data");
  ASSERT_EQ(bin.via.bin.size, want.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(bin.via.bin.ptr, want.data(), bin.via.bin.size), 0);
}

TEST_F(rpc_dispatcher_test, send_info_reports_the_devices_counters) {
  spawn_device("cpu0", {{"threads", "3"}});
  ok("send", params(std::string{"cpu0"}, std::string{"gelu"},
                    std::map<std::string, std::vector<float>>{{"values", {1, 2, 3, 4}}}));
  auto oh = ok("send", params(std::string{"cpu0"}, std::string{"info"}));
  auto m = oh.get().as<object_map>();
  EXPECT_EQ(m.size(), 14u); // every field of device_info
  EXPECT_EQ(m.at("name").as<std::string>(), "cpu0");
  EXPECT_EQ(m.at("type").as<std::string>(), "cpu");
  EXPECT_EQ(m.at("backend").as<std::string>(), "cpu");
  EXPECT_EQ(m.at("threads").as<uint32_t>(), 3u);
  EXPECT_EQ(m.at("cuda_index").as<int32_t>(), -1);
  EXPECT_EQ(m.at("jobs_done").as<uint64_t>(), 1u);
  EXPECT_EQ(m.at("elements_done").as<uint64_t>(), 4u);
  EXPECT_GT(m.at("memory_bytes").as<uint64_t>(), 0u);
  EXPECT_GT(m.at("memory_free_bytes").as<uint64_t>(), 0u);
  EXPECT_EQ(m.at("memory_allocated_bytes").as<uint64_t>(), 0u); // a GPU's LibTorch allocator only
  EXPECT_EQ(m.at("memory_reserved_bytes").as<uint64_t>(), 0u);
  EXPECT_GT(m.at("uptime_seconds").as<double>(), 0.0);
  EXPECT_EQ(m.at("queued").as<uint64_t>(), 0u);
}

TEST_F(rpc_dispatcher_test, send_refuses_unknown_actors_methods_and_bad_tensors) {
  spawn_device("cpu0");
  auto msg =
      refused("send", params(std::string{"gpu9"}, std::string{"info"}), error_code::no_such_actor);
  EXPECT_NE(msg.find("'gpu9'"), std::string::npos) << msg;
  msg = refused("send", params(std::string{"cpu0"}, std::string{"train"}),
                error_code::no_such_method);
  EXPECT_NE(msg.find("'train'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("device"), std::string::npos) << msg;
  // The node manager is an actor too, but it has no actor methods.
  refused("send", params(std::string{"solo.manager"}, std::string{"info"}),
          error_code::no_such_method);
  msg = refused("send", params(std::string{"cpu0"}), error_code::bad_params);
  EXPECT_NE(msg.find("argument 2 (METHOD)"), std::string::npos) << msg;
  msg = refused("send", params(std::string{"cpu0"}, std::string{"gelu"}), error_code::bad_params);
  EXPECT_NE(msg.find("values"), std::string::npos) << msg;
  msg = refused("send",
                params(std::string{"cpu0"}, std::string{"gelu"},
                       std::map<std::string, std::vector<std::string>>{{"values", {"1", "x"}}}),
                error_code::bad_params);
  EXPECT_NE(msg.find("values[0] is a string"), std::string::npos) << msg;
  // Bytes that do not match the shape are the device's to refuse.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_array(3);
  pk.pack(std::string{"cpu0"}).pack(std::string{"gelu"});
  pk.pack_map(2);
  pk.pack(std::string{"shape"}).pack(std::vector<int64_t>{3});
  pk.pack(std::string{"data"});
  pk.pack_bin(5);
  pk.pack_bin_body("abcde", 5);
  msg = refused("send", std::string{buf.data(), buf.size()}, error_code::kernel_failed);
  EXPECT_NE(msg.find("5 bytes"), std::string::npos) << msg;
}

TEST_F(rpc_dispatcher_test, stop_needs_authentication_and_removes_the_actor) {
  spawn_device("cpu0");
  refused("stop", params(std::string{"cpu0"}), error_code::unauthorized);
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"cpu0", "solo.manager"}));
  auto oh = ok("stop", params(std::string{"cpu0"}), true);
  EXPECT_TRUE(oh.get().as<bool>());
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"solo.manager"}));
  refused("send", params(std::string{"cpu0"}, std::string{"info"}), error_code::no_such_actor);
  refused("stop", params(std::string{"cpu0"}), error_code::no_such_actor, true);
  // The node keeps serving, and the name can be used again.
  EXPECT_EQ(ok("ping", params()).get().as<object_map>().at("node").as<std::string>(), "solo");
  spawn_device("cpu0");
  EXPECT_EQ(actor_names(), (std::vector<std::string>{"cpu0", "solo.manager"}));
}

/// A gateway on a loopback port with small bounds, and raw sockets to it.

} // namespace
} // namespace llmos
