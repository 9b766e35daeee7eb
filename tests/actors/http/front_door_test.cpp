// The front door (actors/http/front_door.*) in-process: a guarded_server with three routes on a
// loopback port. Many keep-alive clients at once get every answer (requests move between the
// poll thread and the workers all the time); slow and idle clients, and slow bodies, hold no
// worker; pipelined requests are answered in order and a handler's `Connection: close` ends the
// connection; stopping while clients are busy ends cleanly. Short, so that the sanitizer builds run
// it too.
#include "door_fixture.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace llmos::http {
namespace {

using clock = std::chrono::steady_clock;

class front_door_test : public door_fixture {};

TEST_F(front_door_test, many_keep_alive_clients_get_every_answer) {
  start({.workers = 3});
  const auto plain = [this] {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_tcp_nodelay(true);
    return c;
  };
  EXPECT_EQ(echoed_whole(8, 40, plain,
                         [](int t, int i) { return std::to_string(t) + ":" + std::to_string(i); }),
            8 * 40);
}

TEST_F(front_door_test, slow_and_idle_clients_hold_no_worker) {
  start({.workers = 1, .head_timeout = 800ms});
  std::vector<int> held;
  // A head ending in a bare "\n\n" is no complete head for cpp-httplib: it waits here too.
  held.push_back(dial());
  ::send(held.back(), "GET /healthz HTTP/1.1\r\nA: b\n\n", 29, MSG_NOSIGNAL);
  for (int i = 0; i < 6; ++i) {
    held.push_back(dial());                                             // idle
    held.push_back(dial());                                             // trickling
    ::send(held.back(), "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL); // half a head
  }
  ASSERT_NO_FATAL_FAILURE(expect_healthz_at_once());
  // The half heads run out of time: 408, then closed.
  expect_timed_out(held[2]);
  expect_timed_out(held[0]);
  for (int fd : held)
    ::close(fd);
}

TEST_F(front_door_test, slow_bodies_hold_no_worker_and_a_late_one_is_still_served) {
  start({.workers = 1, .body_timeout = 800ms});
  // Heads whole, bodies a tenth sent: the bodies are awaited off the single worker.
  std::vector<int> held;
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
  for (int i = 0; i < 4; ++i) {
    held.push_back(dial());
    const auto part = head + std::string(10, 'a');
    ::send(held.back(), part.data(), part.size(), MSG_NOSIGNAL);
  }
  // One whose body comes late but within the limit is answered with all of it.
  const int late = dial();
  ::send(late, head.data(), head.size(), MSG_NOSIGNAL);
  ASSERT_NO_FATAL_FAILURE(expect_healthz_at_once());
  const std::string body(100, 'z');
  ::send(late, body.data(), body.size(), MSG_NOSIGNAL);
  bool closed = false;
  auto echoed = drain(late, 500ms, closed);
  EXPECT_NE(echoed.find("200 OK"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find(body), std::string::npos) << echoed;
  // The stalled bodies run out of time: 408 naming the body, then closed.
  const auto answer = expect_timed_out(held[0]);
  EXPECT_NE(answer.find("body"), std::string::npos) << answer;
  for (int fd : held)
    ::close(fd);
  ::close(late);
}

TEST_F(front_door_test, pipelined_requests_in_order_and_connection_close_honoured) {
  start(front_door_limits{});
  const int fd = dial();
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string echo = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  // The refusal leaves its body unread and says Connection: close: the rest is not served.
  const std::string refuse = "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n";
  const std::string all = get + echo + get + refuse + "GET /healthz HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(fd, all.data(), all.size(), MSG_NOSIGNAL), static_cast<ssize_t>(all.size()));
  bool closed = false;
  const auto answers = drain(fd, 3s, closed);
  EXPECT_TRUE(closed);
  const auto ok1 = answers.find("\r\n\r\nok");
  const auto hello = answers.find("\r\n\r\nhello");
  const auto ok2 = answers.find("\r\n\r\nok", ok1 + 1);
  const auto refused = answers.find("HTTP/1.1 413");
  ASSERT_NE(ok1, std::string::npos) << answers;
  ASSERT_NE(hello, std::string::npos) << answers;
  ASSERT_NE(ok2, std::string::npos) << answers;
  ASSERT_NE(refused, std::string::npos) << answers;
  EXPECT_LT(ok1, hello);
  EXPECT_LT(hello, ok2);
  EXPECT_LT(ok2, refused);
  EXPECT_EQ(answers.find("\r\n\r\nok", refused), std::string::npos) << "served after close";
  ::close(fd);
}

TEST_F(front_door_test, connections_beyond_the_limit_get_503_and_stopping_under_load_is_clean) {
  start({.workers = 2, .max_connections = 4});
  std::vector<int> held;
  for (int i = 0; i < 4; ++i)
    held.push_back(dial());
  std::string answer;
  for (int tries = 0; tries < 50 && answer.find("503") == std::string::npos; ++tries) {
    const int extra = dial();
    bool closed = false;
    answer = drain(extra, 500ms, closed);
    ::close(extra);
  }
  EXPECT_NE(answer.find("503"), std::string::npos) << answer;
  for (int fd : held)
    ::close(fd);
  // Clients busy with slow requests while the server stops: every thread ends.
  std::atomic<bool> go{true};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_read_timeout(2s);
      while (go)
        c.Get("/slow");
    });
  std::this_thread::sleep_for(300ms);
  stop();
  go = false;
  for (auto& c : clients)
    c.join();
}

} // namespace
} // namespace llmos::http
