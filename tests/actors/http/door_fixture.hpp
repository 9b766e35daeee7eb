// The fixture of the front door's tests: a guarded_server with four routes on a loopback port
// (/healthz, /slow taking 200 ms, /echo, /refuse answering 413 with Connection: close), raw
// sockets to it, and many clients echoing bodies at once.
#pragma once

#include "http/front_door.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace llmos::http {

using namespace std::chrono_literals;
using door_test_clock = std::chrono::steady_clock;

class door_fixture : public testing::Test {
protected:
  void start(front_door_limits limits, std::shared_ptr<tls::context> tls = nullptr) {
    server_ = std::make_shared<guarded_server>(limits, std::move(tls));
    server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    server_->Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(200ms);
      res.set_content("slow", "text/plain");
    });
    server_->Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.body, "text/plain");
    });
    server_->Post("/refuse", [](const httplib::Request&, httplib::Response& res) {
      res.status = 413;
      res.set_header("Connection", "close");
    });
    server_->set_logger([](const httplib::Request&, const httplib::Response& res) {
      guarded_server::note_response(res);
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // As the gateway does: with cpp-httplib's backlog of 5, a burst of dials beyond it waits a
    // whole second for SYN retransmission when the accepting thread lags (seen under ASan in CI).
    ASSERT_TRUE(server_->widen_backlog());
    listener_ = std::thread{[s = server_] { s->listen_after_bind(); }};
  }

  void TearDown() override { stop(); }

  void stop() {
    if (!server_)
      return;
    server_->stop();
    if (listener_.joinable())
      listener_.join();
    server_->close();
    server_.reset();
  }

  int dial() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }

  /// What `fd` receives until the peer closes (`closed`) or `wait` passes.
  static std::string drain(int fd, std::chrono::milliseconds wait, bool& closed) {
    std::string out;
    closed = false;
    const auto end = door_test_clock::now() + wait;
    char buf[4096];
    while (door_test_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  /// A fresh client gets /healthz within 500 ms: a worker is free despite what is held.
  void expect_healthz_at_once() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(2s);
    const auto t0 = door_test_clock::now();
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(door_test_clock::now() - t0, 500ms);
  }

  /// `fd`'s stalled request runs out of time: it is answered 408 within 3 s and closed; returns
  /// the answer.
  static std::string expect_timed_out(int fd) {
    bool closed = false;
    auto answer = drain(fd, 3s, closed);
    EXPECT_TRUE(closed);
    EXPECT_NE(answer.find("408"), std::string::npos) << answer;
    return answer;
  }

  /// `clients` kept-alive clients, each from `connect()`, post `posts` bodies `body(client, i)`
  /// to /echo all at once; how many came back whole.
  template <class Connect, class Body>
  static int echoed_whole(int clients, int posts, Connect connect, Body body) {
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
      threads.emplace_back([&, t] {
        auto c = connect();
        c->set_keep_alive(true);
        for (int i = 0; i < posts; ++i) {
          const auto sent = body(t, i);
          auto r = c->Post("/echo", sent, "text/plain");
          good += r && r->status == 200 && r->body == sent;
        }
      });
    for (auto& t : threads)
      t.join();
    return good.load();
  }

  std::shared_ptr<guarded_server> server_;
  std::thread listener_;
  int port_ = 0;
};

} // namespace llmos::http
