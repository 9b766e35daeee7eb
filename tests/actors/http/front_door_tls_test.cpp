// The front door serving HTTPS (a tls::context from tools/certs/make-dev-certs.sh): clients
// trusting the CA get every answer over kept-alive connections, bodies larger than one TLS record
// included; connections that never start or never finish their handshake, and TLS clients
// trickling a head, hold no worker and run out of time (the head's 408 arrives encrypted); a
// client of another CA and a plain-HTTP client are not served. Short, so that the sanitizer builds
// run it too.
#include "door_fixture.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/tls_channel.hpp"

namespace llmos::http {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

class front_door_tls_test : public door_fixture {
protected:
  // One CA with a certificate for 127.0.0.1, and an unrelated CA.
  static void SetUpTestSuite() {
    certs_ = fs::temp_directory_path() / ("llmos_door_tls_" + std::to_string(::getpid()));
    const std::string script = std::string{LLMOS_SOURCE_DIR} + "/tools/certs/make-dev-certs.sh";
    for (const char* folder : {"good", "other"}) {
      const auto cmd =
          "/bin/bash " + script + " " + (certs_ / folder).string() + " server >/dev/null 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(certs_); }

  void start_tls(front_door_limits limits) {
    auto ctx = tls::context::server((certs_ / "good" / "server.pem").string(),
                                    (certs_ / "good" / "server.key").string());
    ASSERT_TRUE(ctx) << describe(ctx.error());
    start(limits, *ctx);
  }

  std::unique_ptr<httplib::SSLClient> client(const char* ca_folder) const {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
    c->set_ca_cert_path((certs_ / ca_folder / "ca.pem").c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(2s);
    c->set_read_timeout(2s);
    return c;
  }

  /// A raw TLS client on a socket of its own: the handshake driven by hand, so a test can stop
  /// anywhere in it or after it.
  struct raw_tls {
    int fd;
    tls::channel channel;
    std::string plaintext;

    /// Sends what the channel holds, then feeds what arrives within `wait`; false once the
    /// server closed or TLS broke.
    bool pump(std::chrono::milliseconds wait) {
      const auto out = channel.take_output();
      if (!out.empty())
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0)
        return true;
      char buf[16 * 1024];
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      return n > 0 && !channel.feed(buf, static_cast<std::size_t>(n), plaintext);
    }
  };

  std::unique_ptr<raw_tls> handshaken() const {
    auto ca = tls::context::client((certs_ / "good" / "ca.pem").string());
    EXPECT_TRUE(ca);
    auto c = std::unique_ptr<raw_tls>(new raw_tls{dial(), tls::channel{*ca, "127.0.0.1"}, {}});
    for (int i = 0; i < 40 && !c->channel.established(); ++i)
      EXPECT_TRUE(c->pump(50ms));
    EXPECT_TRUE(c->channel.established());
    c->pump(0ms); // the client's last flight
    return c;
  }

  static fs::path certs_;
};

fs::path front_door_tls_test::certs_;

TEST_F(front_door_tls_test, clients_of_the_ca_get_every_answer_and_others_none) {
  start_tls({.workers = 2});
  // Every third body spans several TLS records (16 KiB each).
  const auto body = [](int t, int i) {
    return std::string(i % 3 == 0 ? 70'000 : 10, static_cast<char>('a' + t)) + std::to_string(i);
  };
  EXPECT_EQ(echoed_whole(
                4, 10, [this] { return client("good"); }, body),
            4 * 10);
  EXPECT_FALSE(client("other")->Get("/healthz")) << "a client of another CA was served";
  httplib::Client plain("127.0.0.1", port_);
  plain.set_read_timeout(2s);
  auto r = plain.Get("/healthz");
  EXPECT_TRUE(!r || r->status != 200);
  auto again = client("good")->Get("/healthz");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "ok");
}

TEST_F(front_door_tls_test, unfinished_handshakes_and_heads_hold_no_worker_and_time_out) {
  start_tls({.workers = 1, .head_timeout = 800ms, .idle_timeout = 1500ms});
  std::vector<int> idle;        // connected, never a byte
  std::vector<int> half_hellos; // the first bytes of a ClientHello, then nothing
  for (int i = 0; i < 4; ++i) {
    idle.push_back(dial());
    half_hellos.push_back(dial());
    ::send(half_hellos.back(), "\x16\x03\x01\x02\x00\x01", 6, MSG_NOSIGNAL);
  }
  // Handshakes done, half a head sent.
  std::vector<std::unique_ptr<raw_tls>> trickling;
  for (int i = 0; i < 3; ++i) {
    trickling.push_back(handshaken());
    ASSERT_FALSE(trickling.back()->channel.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    trickling.back()->pump(0ms);
  }
  const auto t0 = clock::now();
  auto r = client("good")->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(clock::now() - t0, 700ms);
  // The half heads run out of time: 408 over TLS, then closed.
  auto& slow = *trickling.front();
  for (int i = 0; i < 60 && slow.pump(50ms);)
    ++i;
  EXPECT_NE(slow.plaintext.find("408"), std::string::npos) << slow.plaintext;
  // A half hello is closed after head_timeout, an idle connection after idle_timeout.
  bool closed = false;
  drain(half_hellos.front(), 3s, closed);
  EXPECT_TRUE(closed) << "a half handshake was kept";
  drain(idle.front(), 3s, closed);
  EXPECT_TRUE(closed) << "an idle connection was kept";
  for (int fd : idle)
    ::close(fd);
  for (int fd : half_hellos)
    ::close(fd);
  for (auto& t : trickling)
    ::close(t->fd);
}

} // namespace
} // namespace llmos::http
