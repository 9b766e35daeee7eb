// The blocking msgpack-RPC client against a small server thread on real loopback sockets: calls,
// pipelined batches, error responses, late answers, closed connections, connect failures and
// endpoint parsing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"

namespace rpc = llmos::rpc;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

bool has_code(const caf::error& err, llmos::error_code code) {
  return err.category() == llmos::error_category && err.code() == static_cast<uint8_t>(code);
}

std::string repack(const msgpack::object& obj) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, obj);
  return std::string(buf.data(), buf.size());
}

/// Loopback socket bound to a free port, listening with `backlog`.
int listen_on_loopback(int backlog, uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, backlog) != 0) {
    ADD_FAILURE() << "cannot listen on loopback: " << std::strerror(errno);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

/// Answers what a gateway would, by method name:
///   echo -> params; fail -> error {"code": "bad_params"}; slow -> echo after 300 ms;
///   stray -> first a response with another msgid, then echo; every_third -> error when
///   msgid % 3 == 0, else echo; garbage -> bytes that are not msgpack; close -> hang up.
bool default_handler(const rpc::request& req, std::string& out) {
  const auto echo = [&] { rpc::encode_response(out, req.msgid, "", repack(req.params)); };
  const auto fail = [&] {
    rpc::encode_response(out, req.msgid, rpc::pack_error("bad_params", "no"), "");
  };
  if (req.method == "echo") {
    echo();
  } else if (req.method == "fail") {
    fail();
  } else if (req.method == "slow") {
    std::this_thread::sleep_for(300ms);
    echo();
  } else if (req.method == "stray") {
    rpc::encode_response(out, req.msgid + 1000, "", rpc::pack_json("not yours"));
    echo();
  } else if (req.method == "every_third") {
    if (req.msgid % 3 == 0)
      fail();
    else
      echo();
  } else if (req.method == "garbage") {
    out.push_back(static_cast<char>(0xc1));
  } else if (req.method == "close") {
    return false;
  } else {
    rpc::encode_response(out, req.msgid, rpc::pack_error("no_such_method", req.method), "");
  }
  return true;
}

/// A msgpack-RPC server on 127.0.0.1 serving one connection at a time on its own thread.
/// With `hold` > 0 it answers only after the client has been quiet that long, so the number
/// of responses it holds shows how many requests the client had in flight.
class test_server {
public:
  using handler = std::function<bool(const rpc::request&, std::string&)>;

  explicit test_server(handler h = default_handler, std::chrono::milliseconds hold = 0ms)
      : handler_(std::move(h)), hold_(hold) {
    listen_fd_ = listen_on_loopback(16, port_);
    thread_ = std::thread([this] { run(); });
  }

  ~test_server() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::size_t max_held() const { return max_held_; }

private:
  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0)
        continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0)
        continue;
      serve(fd);
      ::close(fd);
    }
  }

  void serve(int fd) {
    rpc::frame_decoder decoder;
    std::string out;
    std::size_t held = 0;
    auto last_input = std::chrono::steady_clock::now();
    char buf[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2) > 0) {
        auto n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
          return;
        decoder.feed(buf, static_cast<std::size_t>(n));
        last_input = std::chrono::steady_clock::now();
        for (;;) {
          auto item = decoder.next();
          if (auto* req = std::get_if<rpc::request>(&item)) {
            if (!handler_(*req, out))
              return;
            ++held;
          } else if (std::holds_alternative<rpc::frame_error>(item)) {
            return;
          } else {
            break;
          }
        }
      }
      if (!out.empty() && std::chrono::steady_clock::now() - last_input >= hold_) {
        max_held_ = std::max<std::size_t>(max_held_, held);
        held = 0;
        for (std::size_t off = 0; off < out.size();) {
          auto n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
          if (n <= 0)
            return;
          off += static_cast<std::size_t>(n);
        }
        out.clear();
      }
    }
  }

  handler handler_;
  std::chrono::milliseconds hold_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> max_held_{0};
  std::thread thread_;
};

class rpc_client_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto err = client_.connect("127.0.0.1", server_.port(), 2s);
    ASSERT_FALSE(err) << llmos::describe(err);
  }

  test_server server_;
  rpc::client client_;
};

} // namespace

TEST_F(rpc_client_test, call_returns_the_result) {
  const json params = {1, "two", {{"three", 3.5}}};
  auto res = client_.call("echo", params, 2s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_TRUE(res->ok);
  EXPECT_EQ(res->value, params);
  // Several calls on one connection.
  for (int i = 0; i < 20; ++i) {
    res = client_.call("echo", {i}, 2s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->value, json({i}));
  }
}

TEST_F(rpc_client_test, call_reports_the_servers_error_object) {
  auto res = client_.call("fail", json::array(), 2s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_FALSE(res->ok);
  EXPECT_EQ(res->value, json({{"code", "bad_params"}, {"message", "no"}}));
  EXPECT_TRUE(client_.connected());
}

TEST_F(rpc_client_test, call_skips_responses_to_other_msgids) {
  auto res = client_.call("stray", {"mine"}, 2s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_EQ(res->value, json({"mine"}));
}

TEST_F(rpc_client_test, late_answer_to_a_timed_out_call_is_skipped) {
  const auto start = std::chrono::steady_clock::now();
  auto res = client_.call("slow", {"late"}, 100ms);
  ASSERT_FALSE(res);
  EXPECT_TRUE(has_code(res.error(), llmos::error_code::io_failed));
  EXPECT_NE(llmos::describe(res.error()).find("100 ms"), std::string::npos)
      << llmos::describe(res.error());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_TRUE(client_.connected());
  // The server answers "slow" first; that answer must not be taken for this call's.
  res = client_.call("echo", {"now"}, 2s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_EQ(res->value, json({"now"}));
}

TEST_F(rpc_client_test, call_many_counts_successes) {
  auto done = client_.call_many("echo", rpc::pack_json({1, 2, 3}), 500, 32, 2s);
  ASSERT_TRUE(done) << llmos::describe(done.error());
  EXPECT_EQ(*done, 500u);
  // The connection is still usable, and msgids did not collide.
  auto res = client_.call("echo", {"after"}, 2s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->value, json({"after"}));
}

TEST_F(rpc_client_test, call_many_does_not_count_error_responses) {
  // A fresh connection starts at msgid 1, so msgids 1..30 hold ten multiples of three.
  auto done = client_.call_many("every_third", rpc::pack_json(json::array()), 30, 4, 2s);
  ASSERT_TRUE(done) << llmos::describe(done.error());
  EXPECT_EQ(*done, 20u);
}

TEST(rpc_client, call_many_keeps_at_most_window_requests_in_flight) {
  test_server server(default_handler, 30ms);
  rpc::client client;
  ASSERT_FALSE(client.connect("127.0.0.1", server.port(), 2s));
  auto done = client.call_many("echo", rpc::pack_json({0}), 40, 8, 2s);
  ASSERT_TRUE(done) << llmos::describe(done.error());
  EXPECT_EQ(*done, 40u);
  // The server holds answers until the client goes quiet: it then holds exactly the window.
  EXPECT_EQ(server.max_held(), 8u);
}

TEST_F(rpc_client_test, call_many_fails_when_the_server_closes) {
  auto done = client_.call_many("close", rpc::pack_json(json::array()), 10, 4, 2s);
  ASSERT_FALSE(done);
  EXPECT_TRUE(has_code(done.error(), llmos::error_code::io_failed));
  EXPECT_FALSE(client_.connected());
}

TEST_F(rpc_client_test, server_closing_the_connection_is_an_error) {
  auto res = client_.call("close", json::array(), 2s);
  ASSERT_FALSE(res);
  EXPECT_TRUE(has_code(res.error(), llmos::error_code::io_failed));
  EXPECT_NE(llmos::describe(res.error()).find("closed"), std::string::npos)
      << llmos::describe(res.error());
  EXPECT_FALSE(client_.connected());
  res = client_.call("echo", json::array(), 2s);
  ASSERT_FALSE(res);
  EXPECT_NE(llmos::describe(res.error()).find("not connected"), std::string::npos);
}

TEST_F(rpc_client_test, reconnect_after_close_works) {
  client_.close();
  EXPECT_FALSE(client_.connected());
  ASSERT_FALSE(client_.connect("127.0.0.1", server_.port(), 2s));
  auto res = client_.call("echo", {1}, 2s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->value, json({1}));
}

TEST_F(rpc_client_test, malformed_response_is_a_malformed_frame_error) {
  auto res = client_.call("garbage", json::array(), 2s);
  ASSERT_FALSE(res);
  EXPECT_TRUE(has_code(res.error(), llmos::error_code::malformed_frame))
      << llmos::describe(res.error());
  EXPECT_FALSE(client_.connected());
}

TEST_F(rpc_client_test, send_raw_and_read_response) {
  std::string frames;
  rpc::encode_request(frames, 500, "echo", rpc::pack_json({"raw"}));
  rpc::encode_request(frames, 501, "fail", "");
  ASSERT_FALSE(client_.send_raw(frames));
  auto first = client_.read_response(2s);
  ASSERT_TRUE(first) << llmos::describe(first.error());
  EXPECT_TRUE(first->ok);
  EXPECT_EQ(first->value, json({"raw"}));
  auto second = client_.read_response(2s);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->ok);
  EXPECT_EQ(second->value["code"], "bad_params");
}

TEST_F(rpc_client_test, large_params_round_trip) {
  // Bigger than the socket buffers, so sending and receiving overlap.
  const json params = {std::string(4 << 20, 'z')};
  auto res = client_.call("echo", params, 5s);
  ASSERT_TRUE(res) << llmos::describe(res.error());
  EXPECT_EQ(res->value, params);
}

TEST(rpc_client, connect_to_a_closed_port_names_the_port) {
  uint16_t port = 0;
  int fd = listen_on_loopback(1, port);
  ::close(fd); // nothing listens there now
  rpc::client client;
  auto err = client.connect("127.0.0.1", port, 2s);
  ASSERT_TRUE(err);
  EXPECT_TRUE(has_code(err, llmos::error_code::io_failed));
  const auto text = llmos::describe(err);
  EXPECT_NE(text.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << text;
  EXPECT_NE(text.find(std::strerror(ECONNREFUSED)), std::string::npos) << text;
  EXPECT_FALSE(client.connected());
}

TEST(rpc_client, connect_to_an_unknown_host_fails) {
  rpc::client client;
  auto err = client.connect("no-such-host.invalid", 7000, 2s);
  ASSERT_TRUE(err);
  EXPECT_TRUE(has_code(err, llmos::error_code::io_failed));
  EXPECT_NE(llmos::describe(err).find("no-such-host.invalid:7000"), std::string::npos);
}

TEST(rpc_client, connect_timeout_is_honoured) {
  // A listener that never accepts: once its accept queue is full, Linux drops further SYNs,
  // so a connect can only end by its timeout.
  uint16_t port = 0;
  int listener = listen_on_loopback(0, port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  rpc::client client;
  const auto start = std::chrono::steady_clock::now();
  auto err = client.connect("127.0.0.1", port, 200ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  for (int fd : fillers)
    ::close(fd);
  ::close(listener);
  ASSERT_TRUE(err) << "connect succeeded although the accept queue was full";
  EXPECT_TRUE(has_code(err, llmos::error_code::io_failed));
  EXPECT_NE(llmos::describe(err).find("timed out after 200 ms"), std::string::npos)
      << llmos::describe(err);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST(rpc_client, calls_without_a_connection_fail) {
  rpc::client client;
  auto res = client.call("echo", json::array(), 100ms);
  ASSERT_FALSE(res);
  EXPECT_TRUE(has_code(res.error(), llmos::error_code::io_failed));
}

TEST(rpc_parse_endpoint, accepts_host_port_forms) {
  using endpoint = std::pair<std::string, uint16_t>;
  const std::vector<std::pair<std::string, endpoint>> cases = {
      {"127.0.0.1:7000", {"127.0.0.1", 7000}},
      {"localhost:1", {"localhost", 1}},
      {"node-3.cluster:65535", {"node-3.cluster", 65535}},
      {"[::1]:9000", {"::1", 9000}},
      {"[fe80::1%eth0]:80", {"fe80::1%eth0", 80}},
      {"0.0.0.0:0", {"0.0.0.0", 0}},
  };
  for (const auto& [text, expected] : cases) {
    auto parsed = rpc::parse_endpoint(text);
    ASSERT_TRUE(parsed) << text << ": " << llmos::describe(parsed.error());
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(rpc_parse_endpoint, explains_what_is_wrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"localhost", "missing port"},
      {"localhost:", "missing port"},
      {"[::1]", "missing port"},
      {"[::1]:", "missing port"},
      {"[::1", "missing ']'"},
      {"[::1]9000", "expected ':'"},
      {"::1:9000", "brackets"},
      {":7000", "empty host"},
      {"[]:7000", "empty host"},
      {"host:http", "not a number"},
      {"host:-1", "not a number"},
      {"host:7000x", "not a number"},
      {"host:65536", "out of range"},
      {"host:99999999999999999999", "out of range"},
  };
  for (const auto& [text, fragment] : cases) {
    auto parsed = rpc::parse_endpoint(text);
    ASSERT_FALSE(parsed) << "'" << text << "' was accepted";
    EXPECT_TRUE(has_code(parsed.error(), llmos::error_code::bad_option)) << text;
    const auto message = llmos::describe(parsed.error());
    EXPECT_NE(message.find(fragment), std::string::npos) << text << " -> " << message;
    EXPECT_NE(message.find("'" + text + "'"), std::string::npos) << message;
  }
}
