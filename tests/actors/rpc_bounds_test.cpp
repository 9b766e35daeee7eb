// The msgpack-RPC gateway's memory bounds over real loopback sockets (small bounds):
// connections beyond the cap, partial frames beyond the total, pipelined calls beyond the
// in-flight bound, a client that sends calls and never reads their answers; and its call limits:
// a call past its limit, progress that keeps a long call alive, a closed connection's late
// answer, limits out of range.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "directory/directory_actor.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/actors/method_table.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/topology.hpp"
#include "node_manager/node_manager_actor.hpp"
#include "rpc_test_params.hpp"

namespace llmos {
namespace {

using test::params;

class rpc_bounds_test : public ::testing::Test {
protected:
  explicit rpc_bounds_test(std::shared_ptr<const method_table> table =
                               std::make_shared<const method_table>(builtin_methods())) {
    auto topo = parse_topology("nodes:\n  - name: solo\n    port: 4100\n    rpc_port: 4200\n",
                               "solo.yaml", kinds_);
    EXPECT_TRUE(topo) << describe(topo.error());
    dir_ = spawn_directory(sys_);
    nm_ = spawn_node_manager(sys_, node_manager_config{*topo, "solo", &kinds_, dir_, false});
    gateway_options opts;
    opts.host = "127.0.0.1";
    opts.bounds = rpc_bounds{3, 1u << 20, 4, 64u << 10, 0};
    auto gw = start_gateway(sys_, nm_, std::move(table), opts);
    EXPECT_TRUE(gw) << describe(gw.error());
    if (gw)
      gw_ = *gw;
  }

  ~rpc_bounds_test() override {
    for (int fd : fds_)
      ::close(fd);
    caf::anon_send_exit(gw_.broker, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(nm_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dir_, caf::exit_reason::user_shutdown);
  }

  int dial() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(gw_.port);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    fds_.push_back(fd);
    return fd;
  }

  /// True when the gateway closed `fd` (end of stream) within `wait`.
  static bool closed(int fd, std::chrono::milliseconds wait) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0)
      return false;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK) <= 0;
  }

  /// One ping on `fd`, answered within 5 s.
  static bool pings(int fd) {
    std::string frame;
    rpc::encode_request(frame, 1, "ping", "");
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size()))
      return false;
    rpc::frame_decoder dec;
    char buf[4096];
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
         std::chrono::steady_clock::now() < deadline;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return false;
      dec.feed(buf, static_cast<std::size_t>(n));
      if (std::holds_alternative<rpc::response>(dec.next()))
        return true;
    }
    return false;
  }

  /// Starts a [0, 1, "ping", [bin32 of `size`]] frame and sends `part` bytes of it.
  static bool send_part_of_frame(int fd, uint32_t size, std::size_t part) {
    std::string head{"\x94\x00\x01\xa4ping\x91\xc6", 10};
    for (int shift : {24, 16, 8, 0})
      head.push_back(static_cast<char>((size >> shift) & 0xff));
    head.resize(head.size() + part, '\0');
    return ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size());
  }

  actor_kind_table kinds_ = torch_free_actor_kinds();
  caf::actor_system_config cfg_;
  caf::actor_system sys_{[this]() -> caf::actor_system_config& {
    register_messages(cfg_);
    cfg_.load<caf::io::middleman>();
    cfg_.set("scheduler.max-threads", 2);
    return cfg_;
  }()};
  directory_actor dir_;
  node_manager_actor nm_;
  gateway gw_;
  std::vector<int> fds_;
};

TEST_F(rpc_bounds_test, connections_beyond_the_cap_are_closed_on_arrival) {
  const int a = dial(), b = dial(), c = dial();
  EXPECT_TRUE(pings(a));
  EXPECT_TRUE(pings(b));
  EXPECT_TRUE(pings(c));
  const int d = dial();
  EXPECT_TRUE(closed(d, std::chrono::seconds(5))) << "a fourth connection was kept";
  ::close(a);
  fds_.erase(fds_.begin());
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) // the gateway sees the close a moment later
    served = pings(dial()) || (std::this_thread::sleep_for(std::chrono::milliseconds(50)), false);
  EXPECT_TRUE(served) << "a place freed by a close is not given again";
}

TEST_F(rpc_bounds_test, partial_frames_beyond_the_total_cost_their_connection) {
  // 600 KiB of a 2 MiB frame each: the second passes the 1 MiB total.
  const int a = dial(), b = dial();
  ASSERT_TRUE(send_part_of_frame(a, 2u << 20, 600u << 10));
  EXPECT_FALSE(closed(a, std::chrono::milliseconds(500)));
  ASSERT_TRUE(send_part_of_frame(b, 2u << 20, 600u << 10));
  EXPECT_TRUE(closed(b, std::chrono::seconds(5))) << "1.2 MiB of partial frames were kept";
  EXPECT_FALSE(closed(a, std::chrono::milliseconds(100))) << "the first is within the bound";
  EXPECT_TRUE(pings(dial()));
}

TEST_F(rpc_bounds_test, pipelined_calls_beyond_the_bounds_wait_for_their_turn) {
  // 200 pings in one send, 4 in flight at most: all answered, in order of arrival.
  const int fd = dial();
  std::string frames;
  for (uint32_t id = 0; id < 200; ++id)
    rpc::encode_request(frames, id, "ping", "");
  ASSERT_EQ(::send(fd, frames.data(), frames.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frames.size()));
  rpc::frame_decoder dec;
  uint32_t answered = 0;
  char buf[65536];
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       answered < 200 && std::chrono::steady_clock::now() < deadline;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    dec.feed(buf, static_cast<std::size_t>(n));
    for (auto item = dec.next(); std::holds_alternative<rpc::response>(item); item = dec.next())
      EXPECT_EQ(std::get<rpc::response>(item).msgid, answered++);
  }
  EXPECT_EQ(answered, 200u) << "pipelined calls beyond max_in_flight were never answered";
}

TEST_F(rpc_bounds_test, a_client_that_never_reads_its_answers_is_cut_off) {
  // Pings sent without reading an answer: once 64 KiB of answers are unsent, calls wait, and
  // when 64 KiB of calls wait the connection is closed.
  const int fd = dial();
  std::string frames;
  for (uint32_t id = 0; id < 1000; ++id)
    rpc::encode_request(frames, id, "ping", "");
  std::size_t sent = 0;
  bool refused = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!refused && sent < (64u << 20) && std::chrono::steady_clock::now() < deadline) {
    const auto n = ::send(fd, frames.data(), frames.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
      sent += static_cast<std::size_t>(n);
    else if (errno == EAGAIN)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    else
      refused = true; // EPIPE or ECONNRESET: closed by the gateway
  }
  EXPECT_TRUE(refused || closed(fd, std::chrono::seconds(5)))
      << sent << " bytes of calls were taken from a client that reads nothing";
  EXPECT_LT(sent, 64u << 20);
  EXPECT_TRUE(pings(dial())) << "other clients are served";
}

/// The built-in table and "slow [MS, TICKS]": answers TICKS after TICKS sleeps of MS each, with
/// a progress notification after every sleep (on a thread of its own, as a training run).
std::shared_ptr<const method_table> table_with_slow_method() {
  auto t = builtin_methods();
  t.add({"slow", false, "slow MS TICKS", "a test method", [](rpc_call& c) {
           const auto ms = c.params->via.array.ptr[0].as<uint32_t>();
           const auto ticks = c.params->via.array.ptr[1].as<uint32_t>();
           auto worker = c.self->spawn<caf::detached>(
               [ms, ticks, notify = c.notify](caf::event_based_actor*) -> caf::behavior {
                 return {[=](tick_atom) -> uint32_t {
                   for (uint32_t i = 0; i < ticks; ++i) {
                     std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                     notify("progress", params(i));
                   }
                   return ticks;
                 }};
               });
           c.self->request(worker, caf::infinite, tick_atom::value)
               .then(
                   [reply = c.reply, worker](uint32_t n) mutable {
                     msgpack::sbuffer b;
                     msgpack::pack(b, n);
                     reply(std::string{b.data(), b.size()});
                     caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
                   },
                   [reply = c.reply](caf::error& err) mutable { reply(std::move(err)); });
         }});
  return std::make_shared<const method_table>(std::move(t));
}

/// The gateway's per-call limits (call_deadlines.hpp) through a real client.
class rpc_deadline_test : public rpc_bounds_test {
protected:
  rpc_deadline_test() : rpc_bounds_test(table_with_slow_method()) {
    EXPECT_FALSE(client_.connect("127.0.0.1", gw_.port));
  }
  rpc::client client_;
};

TEST_F(rpc_deadline_test, a_call_past_its_limit_is_answered_request_timeout) {
  ASSERT_FALSE(client_.limit_calls(std::chrono::milliseconds(300)));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client_.call("slow", nlohmann::json::array({2000, 1}), std::chrono::seconds(10));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_FALSE(r->ok) << r->value.dump();
  EXPECT_EQ(r->value["code"], "request_timeout") << r->value.dump();
  EXPECT_NE(r->value["message"].get<std::string>().find("slow: no answer within 300 ms"),
            std::string::npos)
      << r->value.dump();
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  // The connection goes on; the late answer, when it comes, is dropped.
  auto ping = client_.call("ping", nlohmann::json::array(), std::chrono::seconds(5));
  ASSERT_TRUE(ping && ping->ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  ping = client_.call("ping", nlohmann::json::array(), std::chrono::seconds(5));
  ASSERT_TRUE(ping && ping->ok);
  EXPECT_EQ(ping->value["node"], "solo") << ping->value.dump();
}

TEST_F(rpc_deadline_test, progress_keeps_a_long_call_alive) {
  ASSERT_FALSE(client_.limit_calls(std::chrono::milliseconds(600)));
  int progress = 0;
  client_.on_notification(
      [&](const std::string& method, const nlohmann::json&) { progress += method == "progress"; });
  // 10 sleeps of 150 ms: 1.5 s in all, far past the limit, but never 600 ms without progress.
  auto r = client_.call("slow", nlohmann::json::array({150, 10}), std::chrono::seconds(10));
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_TRUE(r->ok) << r->value.dump();
  EXPECT_EQ(r->value, 10);
  EXPECT_EQ(progress, 10);
}

TEST_F(rpc_deadline_test, a_closed_connections_late_answer_never_reaches_the_next_client) {
  // The next client's socket exists before the gateway closes the first connection, so that the
  // descriptor the gateway frees (its connection handle) is the one its next accept gets back.
  const int next = ::socket(AF_INET, SOCK_STREAM, 0);
  fds_.push_back(next);
  // A slow call, then a byte that makes the gateway close the connection itself.
  const int a = dial();
  std::string frames;
  rpc::encode_request(frames, 77, "slow", params(uint32_t{800}, uint32_t{1}));
  frames += "\xc1"; // never used in msgpack
  ASSERT_EQ(::send(a, frames.data(), frames.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frames.size()));
  ASSERT_TRUE(closed(a, std::chrono::seconds(5)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(gw_.port);
  ASSERT_EQ(::connect(next, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  // Pings for longer than the slow call takes: every answer is a ping's.
  rpc::frame_decoder dec;
  char buf[4096];
  for (uint32_t id = 1; id <= 30; ++id) {
    std::string ping;
    rpc::encode_request(ping, id, "ping", "");
    ASSERT_EQ(::send(next, ping.data(), ping.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(ping.size()));
    bool answered = false;
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
         !answered && std::chrono::steady_clock::now() < end;) {
      pollfd p{next, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      const auto n = ::recv(next, buf, sizeof buf, 0);
      ASSERT_GT(n, 0);
      dec.feed(buf, static_cast<std::size_t>(n));
      for (auto item = dec.next(); std::holds_alternative<rpc::response>(item); item = dec.next()) {
        EXPECT_EQ(std::get<rpc::response>(item).msgid, id) << "another connection's answer";
        answered = true;
      }
    }
    ASSERT_TRUE(answered);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
}

TEST_F(rpc_deadline_test, a_limit_out_of_range_or_of_the_wrong_type_is_refused) {
  auto zero = client_.limit_calls(std::chrono::milliseconds(0));
  ASSERT_TRUE(zero);
  EXPECT_NE(describe(zero).find("give 1 to 86400000"), std::string::npos) << describe(zero);
  auto text = client_.call("timeout", nlohmann::json::array({"soon"}), std::chrono::seconds(5));
  ASSERT_TRUE(text);
  EXPECT_FALSE(text->ok);
  EXPECT_EQ(text->value["code"], "bad_params") << text->value.dump();
}

} // namespace
} // namespace llmos
