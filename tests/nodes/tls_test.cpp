// Mutual TLS between node processes, with certificates from tools/certs/make-dev-certs.sh: two
// nodes of one CA connect and stay connected; a node whose certificate comes from another CA or
// names no node of the topology, and a node without TLS, are refused, and their attempts do not
// disturb the good link. Without certificates, nodes holding the cluster secret connect (TLS-PSK)
// and a node with another secret or none is refused. The HTTP
// gateway serves HTTPS with such a certificate: a client of the CA is answered, a plain-HTTP
// client and one that trusts another CA are not, and a key without its certificate is refused.
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "cluster_harness.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "llmos/runtime/tls_channel.hpp"
#include "solo_node.hpp"

namespace {

/// The PSK cluster secret of alpha and beta in the secret tests.
const std::string secret_section = "cluster_secret: 7c1d0e55a3b84f0f9d2e61aa\n";

using namespace llmos::test;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

class tls_test : public testing::Test {
protected:
  // One CA for the cluster (alpha, beta, gamma) and an unrelated one (gamma only).
  static void SetUpTestSuite() {
    certs_ = std::make_unique<temp_dir>("certs");
    const std::string script = std::string{LLMOS_SOURCE_DIR} + "/tools/certs/make-dev-certs.sh";
    for (const auto& [folder, nodes] : {std::pair<std::string, std::vector<std::string>>{
                                            "good", {"alpha", "beta", "gamma", "mallory"}},
                                        {"other", {"gamma"}}}) {
      std::vector<std::string> argv{"/bin/bash", script, (*certs_ / folder).string()};
      argv.insert(argv.end(), nodes.begin(), nodes.end());
      auto r = llmos::test::run_program(argv, 60s);
      ASSERT_EQ(r.exit_code, 0) << "make-dev-certs.sh failed:\n" << r.out << r.err;
    }
  }

  static void TearDownTestSuite() { certs_.reset(); }

  /// The `tls:` section for `node` with its certificate from `folder` ("good" or "other").
  static std::string tls_section(const std::string& folder, const std::string& node) {
    const auto dir = *certs_ / folder;
    return "tls:\n"
           "  certificate: " +
           (dir / (node + ".pem")).string() + "\n  key: " + (dir / (node + ".key")).string() +
           "\n  ca: " + (dir / "ca.pem").string() + "\n";
  }

  /// Starts alpha and beta with good certificates and waits until each sees the other up.
  void start_good_pair(cluster& nodes) {
    start_pair(nodes, tls_section("good", "alpha"), tls_section("good", "beta"));
  }

  /// Starts alpha and beta with these top-level sections and waits until each sees the other up.
  static void start_pair(cluster& nodes, const std::string& alpha, const std::string& beta) {
    nodes.set_node_top_level("alpha", alpha);
    nodes.set_node_top_level("beta", beta);
    ASSERT_TRUE(nodes.start("alpha"));
    ASSERT_TRUE(nodes.start("beta"));
    ASSERT_TRUE(nodes.wait_for_state("alpha", "beta", "up"));
    ASSERT_TRUE(nodes.wait_for_state("beta", "alpha", "up"));
  }

  /// Starts gamma with `top_level` (its tls or cluster_secret section; "" for none), then
  /// watches for 3 s that it is never up for alpha or beta nor they for it, and that the
  /// alpha-beta link stays up all along.
  void expect_gamma_refused(cluster& nodes, const std::string& top_level) {
    if (!top_level.empty())
      nodes.set_node_top_level("gamma", top_level);
    ASSERT_TRUE(nodes.start("gamma"));
    const auto t0 = steady_clock::now();
    bool gamma_up = false;
    bool pair_down = false;
    wait_until(
        [&] {
          auto a = nodes.states("alpha");
          auto b = nodes.states("beta");
          auto g = nodes.states("gamma");
          gamma_up = gamma_up || a["gamma"] == "up" || b["gamma"] == "up" || g["alpha"] == "up" ||
                     g["beta"] == "up";
          pair_down = pair_down || a["beta"] != "up" || b["alpha"] != "up";
          return false;
        },
        3s, 100ms);
    EXPECT_FALSE(gamma_up) << "gamma got in";
    EXPECT_FALSE(pair_down) << "the alpha-beta link dropped while gamma tried to connect";
    // Up all along, not down and up again between two looks.
    const auto watched =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t0).count();
    EXPECT_GE(nodes.since_ms("alpha")["beta"], watched);
    EXPECT_TRUE(nodes.process("gamma").running()) << "gamma gave up instead of retrying";
    // Without the seed, gamma has no directory to list.
    auto r = nodes.repl("gamma", {"actors"});
    EXPECT_EQ(r.error_code(0), "node_unreachable") << r.line(0).dump();
  }

  static std::unique_ptr<temp_dir> certs_;
};

std::unique_ptr<temp_dir> tls_test::certs_;

TEST_F(tls_test, nodes_with_certificates_of_one_ca_connect_and_stay_up) {
  cluster nodes{"tls_pair", {"alpha", "beta"}};
  ASSERT_NO_FATAL_FAILURE(start_good_pair(nodes));
  // Both nodes log that they speak TLS.
  EXPECT_NE(nodes.log("alpha").find("TLS between nodes"), std::string::npos) << nodes.log("alpha");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(nodes.states("alpha")["beta"], "up");
  EXPECT_EQ(nodes.states("beta")["alpha"], "up");
  EXPECT_GE(nodes.since_ms("alpha")["beta"], 1000) << "the link dropped and came back";
  EXPECT_GE(nodes.since_ms("beta")["alpha"], 1000) << "the link dropped and came back";
  // Messages cross the TLS link: beta's device through alpha's gateway, the directory from beta.
  auto gelu = nodes.repl("alpha", {"send cpu-beta gelu values=1,2"});
  ASSERT_EQ(gelu.exit_code, 0) << gelu.line(0).dump();
  EXPECT_NEAR(gelu.line(0)["values"][0].get<double>(), 0.841192, 1e-5);
  EXPECT_TRUE(wait_until([&] { return nodes.actor_names("beta").count("cpu-alpha") == 1; }, 5s));
}

TEST_F(tls_test, a_node_with_a_certificate_of_another_ca_is_refused) {
  cluster nodes{"tls_other_ca", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_good_pair(nodes));
  expect_gamma_refused(nodes, tls_section("other", "gamma"));
}

TEST_F(tls_test, a_certificate_of_the_ca_that_names_no_node_of_the_topology_is_refused) {
  cluster nodes{"tls_stranger", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_good_pair(nodes));
  // Signed by the cluster's CA, but issued to "mallory", who is no node of this cluster.
  expect_gamma_refused(nodes, tls_section("good", "mallory"));
  EXPECT_NE(nodes.log("alpha").find("names none of the expected nodes"), std::string::npos)
      << nodes.log("alpha");
}

TEST_F(tls_test, a_node_without_tls_is_refused) {
  cluster nodes{"tls_plain", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_good_pair(nodes));
  expect_gamma_refused(nodes, ""); // same ports, its own topology without a tls section
}

TEST_F(tls_test, nodes_with_the_cluster_secret_connect_and_others_are_refused) {
  cluster nodes{"psk", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_pair(nodes, secret_section, secret_section));
  EXPECT_NE(nodes.log("alpha").find("with the cluster secret"), std::string::npos)
      << nodes.log("alpha");
  auto gelu = nodes.repl("alpha", {"send cpu-beta gelu values=1"});
  ASSERT_EQ(gelu.exit_code, 0) << gelu.line(0).dump();
  EXPECT_NEAR(gelu.line(0)["values"][0].get<double>(), 0.841192, 1e-5);
  // Another secret: the handshake fails.
  expect_gamma_refused(nodes, "cluster_secret: 00000000000000000000000000\n");
}

TEST_F(tls_test, a_node_without_the_cluster_secret_is_refused) {
  cluster nodes{"psk_plain", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_pair(nodes, secret_section, secret_section));
  // No secret: plain CAF, which the PSK port does not speak.
  expect_gamma_refused(nodes, "");
}

TEST_F(tls_test, the_http_gateway_serves_https_to_clients_of_its_ca_only) {
  temp_dir dir{"https"};
  const auto ports = llmos::test::free_ports(3);
  const auto good = *certs_ / "good";
  auto topology = [&](const std::string& tls) {
    return "cluster: web\nnodes:\n  - name: alpha\n    host: 127.0.0.1\n    port: " +
           std::to_string(ports[0]) + "\n    rpc_port: " + std::to_string(ports[1]) +
           "\n    actors:\n      - {name: web, kind: http, config: {port: " +
           std::to_string(ports[2]) + tls + "}}\n";
  };
  // A key without its certificate: the node does not start the actor and says which key is
  // alone.
  llmos::test::write_file(dir / "half.yaml",
                          topology(", tls_key: " + (good / "alpha.key").string()));
  EXPECT_TRUE(llmos::test::node_says(dir / "half.yaml", "alpha", "tls_key given alone"));
  // A "certificate" that is not PEM (here: a topology file) is refused by name as well.
  llmos::test::write_file(dir / "junk.yaml",
                          topology(", tls_certificate: " + (dir / "half.yaml").string() +
                                   ", tls_key: " + (good / "alpha.key").string()));
  EXPECT_TRUE(llmos::test::node_says(dir / "junk.yaml", "alpha", "cannot serve TLS"));

  llmos::test::write_file(dir / "topology.yaml",
                          topology(", tls_certificate: " + (good / "alpha.pem").string() +
                                   ", tls_key: " + (good / "alpha.key").string()));
  auto node = llmos::test::start_node(dir / "topology.yaml", "alpha");
  httplib::SSLClient trusting("127.0.0.1", ports[2]);
  trusting.set_ca_cert_path((good / "ca.pem").c_str());
  trusting.enable_server_certificate_verification(true);
  trusting.set_connection_timeout(2s);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = trusting.Get("/healthz");
        return r && r->status == 200;
      },
      20s, 200ms))
      << llmos::test::read_file(dir / "alpha.log");
  // Plain HTTP on the same port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", ports[2]);
  plain.set_connection_timeout(2s);
  plain.set_read_timeout(2s);
  auto r = plain.Get("/healthz");
  EXPECT_TRUE(!r || r->status != 200);
  // A client that trusts another CA refuses the gateway's certificate.
  httplib::SSLClient stranger("127.0.0.1", ports[2]);
  stranger.set_ca_cert_path((*certs_ / "other" / "ca.pem").c_str());
  stranger.enable_server_certificate_verification(true);
  stranger.set_connection_timeout(2s);
  auto refused = stranger.Get("/healthz");
  EXPECT_FALSE(refused);
  // And the trusting client is still served.
  auto again = trusting.Get("/healthz");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(tls_test, the_rpc_port_speaks_tls_to_clients_of_its_ca_only) {
  temp_dir dir{"rpc_tls"};
  const auto ports = llmos::test::free_ports(2);
  const auto good = *certs_ / "good";
  llmos::test::write_file(dir / "topology.yaml",
                          "rpc_tls: {certificate: " + (good / "alpha.pem").string() +
                              ", key: " + (good / "alpha.key").string() +
                              "}\nnodes:\n  - {name: alpha, port: " + std::to_string(ports[0]) +
                              ", rpc_port: " + std::to_string(ports[1]) + "}\n");
  auto node = llmos::test::start_node(dir / "topology.yaml", "alpha");
  const auto ca = (good / "ca.pem").string();
  const auto endpoint = "127.0.0.1:" + std::to_string(ports[1]);
  auto repl = [&](const std::string& ca_file) {
    std::vector<std::string> argv{llmos::test::program("llmos-repl"), endpoint, "--json", "-c",
                                  "ping"};
    if (!ca_file.empty())
      argv.insert(argv.end(), {"--ca", ca_file});
    return llmos::test::run_program(argv, 20s);
  };
  // The REPL with the CA is answered (the first tries may come before the node listens).
  llmos::test::program_result trusted;
  ASSERT_TRUE(wait_until(
      [&] {
        trusted = repl(ca);
        return trusted.exit_code == 0;
      },
      20s, 200ms))
      << trusted.out << trusted.err << llmos::test::read_file(dir / "alpha.log");
  EXPECT_NE(trusted.out.find("\"alpha\""), std::string::npos) << trusted.out;
  EXPECT_NE(llmos::test::read_file(dir / "alpha.log").find("(TLS)"), std::string::npos);

  // Plaintext gets no answer: an HTTP request is refused at once, and the node says why; a
  // msgpack call (whose first byte reads as a long SSLv2 record) waits for the handshake
  // deadline.
  llmos::rpc::client plain;
  ASSERT_FALSE(plain.connect("127.0.0.1", ports[1], 5s));
  ASSERT_FALSE(plain.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(plain.read_response(5s));
  EXPECT_TRUE(wait_until(
      [&] {
        return llmos::test::read_file(dir / "alpha.log").find("TLS: handshake failed") !=
               std::string::npos;
      },
      5s))
      << llmos::test::read_file(dir / "alpha.log");
  ASSERT_FALSE(plain.connect("127.0.0.1", ports[1], 5s));
  auto unanswered = plain.call("ping", nlohmann::json::array(), 2s);
  EXPECT_TRUE(!unanswered || !unanswered->ok);

  // A client of another CA refuses the node's certificate and says so.
  auto stranger = llmos::tls::context::client((*certs_ / "other" / "ca.pem").string());
  ASSERT_TRUE(stranger);
  llmos::rpc::client refusing;
  refusing.use_tls(*stranger);
  auto err = refusing.connect("127.0.0.1", ports[1], 5s);
  ASSERT_TRUE(err);
  EXPECT_NE(llmos::describe(err).find("certificate"), std::string::npos) << llmos::describe(err);

  // Many calls over one TLS connection, answers intact; the node still serves the REPL.
  auto trusting = llmos::tls::context::client(ca);
  ASSERT_TRUE(trusting);
  llmos::rpc::client c;
  c.use_tls(*trusting);
  ASSERT_FALSE(c.connect("127.0.0.1", ports[1], 5s));
  for (int i = 0; i < 50; ++i) {
    auto r = c.call("ping", nlohmann::json::array(), 5s);
    ASSERT_TRUE(r) << llmos::describe(r.error());
    ASSERT_TRUE(r->ok) << r->value.dump();
    EXPECT_EQ(r->value["node"], "alpha") << r->value.dump();
  }
  auto batch = c.call_many("ping", std::string{"\x90"}, 2000, 64, 10s);
  ASSERT_TRUE(batch) << llmos::describe(batch.error());
  EXPECT_EQ(*batch, 2000u);
  EXPECT_EQ(repl(ca).exit_code, 0);
}

} // namespace
