// TLS channels over memory: a client and a server pumped into each other, with certificates
// from tools/certs/make-dev-certs.sh (one CA for "alpha", an unrelated one). Checks the
// handshake, data both ways (held until the handshake ends, and 1 MiB at once), the server
// name check, a foreign CA, garbage bytes, and unusable files named in the error.
#include "llmos/runtime/tls_channel.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"

namespace {

namespace fs = std::filesystem;
using llmos::tls::channel;
using llmos::tls::context;

class tls_channel_test : public testing::Test {
protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/llmos-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string script = std::string{LLMOS_SOURCE_DIR} + "/tools/certs/make-dev-certs.sh";
    for (const auto* folder : {"good", "other"}) {
      const auto cmd = "/bin/bash " + script + " " + (dir_ / folder).string() + " alpha >/dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::shared_ptr<context> server_ctx() {
    auto ctx =
        context::server((dir_ / "good/alpha.pem").string(), (dir_ / "good/alpha.key").string());
    EXPECT_TRUE(ctx) << llmos::describe(ctx.error());
    return ctx ? *ctx : nullptr;
  }
  static std::shared_ptr<context> client_ctx(const char* folder) {
    auto ctx = context::client((dir_ / folder / "ca.pem").string());
    EXPECT_TRUE(ctx) << llmos::describe(ctx.error());
    return ctx ? *ctx : nullptr;
  }

  /// Moves output between the two until neither has any; the first error stops it.
  static caf::error pump(channel& client, channel& server, std::string& to_client,
                         std::string& to_server) {
    for (int round = 0; round < 100; ++round) {
      auto c = client.take_output();
      auto s = server.take_output();
      if (c.empty() && s.empty())
        return caf::none;
      if (auto err = server.feed(c.data(), c.size(), to_server))
        return err;
      if (auto err = client.feed(s.data(), s.size(), to_client))
        return err;
    }
    return llmos::make_llmos_error(llmos::error_code::io_failed, "the channels never settled");
  }

  static fs::path dir_;
};

fs::path tls_channel_test::dir_;

TEST_F(tls_channel_test, a_client_of_the_ca_talks_to_the_server_both_ways) {
  channel server{server_ctx()};
  channel client{client_ctx("good"), "127.0.0.1"};
  // Written before the handshake: held, then sent once it ends.
  ASSERT_FALSE(client.write("hello"));
  std::string at_client, at_server;
  ASSERT_FALSE(pump(client, server, at_client, at_server));
  EXPECT_TRUE(client.established());
  EXPECT_TRUE(server.established());
  EXPECT_EQ(at_server, "hello");
  const std::string big(1 << 20, 'x');
  ASSERT_FALSE(server.write(big));
  ASSERT_FALSE(pump(client, server, at_client, at_server));
  EXPECT_EQ(at_client, big);
  // What crossed is not the plaintext.
  ASSERT_FALSE(client.write("secret words"));
  const auto wire = client.take_output();
  EXPECT_EQ(wire.find("secret words"), std::string::npos);
  ASSERT_FALSE(server.feed(wire.data(), wire.size(), at_server));
  EXPECT_EQ(at_server, "hellosecret words");
}

TEST_F(tls_channel_test, the_server_name_is_checked_against_its_certificate) {
  for (const char* name : {"alpha", "localhost"}) {
    channel server{server_ctx()};
    channel client{client_ctx("good"), name};
    std::string a, b;
    EXPECT_FALSE(pump(client, server, a, b)) << name;
    EXPECT_TRUE(client.established()) << name;
  }
  channel server{server_ctx()};
  channel client{client_ctx("good"), "mallory.example"};
  std::string a, b;
  auto err = pump(client, server, a, b);
  ASSERT_TRUE(err);
  EXPECT_NE(llmos::describe(err).find("the server's certificate"), std::string::npos)
      << llmos::describe(err);
  EXPECT_FALSE(client.established());
}

TEST_F(tls_channel_test, a_client_of_another_ca_refuses_the_server) {
  channel server{server_ctx()};
  channel client{client_ctx("other"), "127.0.0.1"};
  std::string a, b;
  auto err = pump(client, server, a, b);
  ASSERT_TRUE(err);
  EXPECT_NE(llmos::describe(err).find("certificate"), std::string::npos) << llmos::describe(err);
}

TEST_F(tls_channel_test, plaintext_sent_to_a_server_is_an_error_not_data) {
  channel server{server_ctx()};
  std::string plain;
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  auto err = server.feed(http.data(), http.size(), plain);
  ASSERT_TRUE(err);
  EXPECT_NE(llmos::describe(err).find("TLS: handshake failed"), std::string::npos)
      << llmos::describe(err);
  EXPECT_TRUE(plain.empty());
}

TEST_F(tls_channel_test, unusable_files_are_named) {
  auto missing = context::server((dir_ / "nope.pem").string(), (dir_ / "good/alpha.key").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(llmos::describe(missing.error()).find("nope.pem"), std::string::npos);
  auto wrong_key =
      context::server((dir_ / "good/alpha.pem").string(), (dir_ / "other/alpha.key").string());
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(llmos::describe(wrong_key.error()).find("other/alpha.key"), std::string::npos);
  EXPECT_NE(llmos::describe(wrong_key.error()).find("mismatch"), std::string::npos)
      << llmos::describe(wrong_key.error());
  auto ca = context::client((dir_ / "good/alpha.key").string());
  ASSERT_FALSE(ca);
  EXPECT_NE(llmos::describe(ca.error()).find("cannot load the CA file"), std::string::npos);
}

} // namespace
