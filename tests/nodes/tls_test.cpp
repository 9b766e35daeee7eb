// Mutual TLS between node processes, with certificates from tools/certs/make-dev-certs.sh: two
// nodes of one CA connect and stay connected; a node whose certificate comes from another CA,
// and a node without TLS, are refused, and their attempts do not disturb the good link.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cluster_harness.hpp"

namespace {

using llmos::test::cluster;
using llmos::test::temp_dir;
using llmos::test::wait_until;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

class tls_test : public testing::Test {
protected:
  // One CA for the cluster (alpha, beta, gamma) and an unrelated one (gamma only).
  static void SetUpTestSuite() {
    certs_ = std::make_unique<temp_dir>("certs");
    const std::string script = std::string{LLMOS_SOURCE_DIR} + "/tools/certs/make-dev-certs.sh";
    for (const auto& [folder, nodes] :
         {std::pair<std::string, std::vector<std::string>>{"good", {"alpha", "beta", "gamma"}},
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
    nodes.set_node_top_level("alpha", tls_section("good", "alpha"));
    nodes.set_node_top_level("beta", tls_section("good", "beta"));
    ASSERT_TRUE(nodes.start("alpha"));
    ASSERT_TRUE(nodes.start("beta"));
    ASSERT_TRUE(nodes.wait_for_state("alpha", "beta", "up"));
    ASSERT_TRUE(nodes.wait_for_state("beta", "alpha", "up"));
  }

  /// Watches for 3 s that gamma (just started) is never up for alpha or beta nor they for it,
  /// and that the alpha-beta link stays up all along.
  void expect_gamma_refused(cluster& nodes) {
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
  nodes.set_node_top_level("gamma", tls_section("other", "gamma"));
  ASSERT_TRUE(nodes.start("gamma"));
  expect_gamma_refused(nodes);
}

TEST_F(tls_test, a_node_without_tls_is_refused) {
  cluster nodes{"tls_plain", {"alpha", "beta", "gamma"}};
  ASSERT_NO_FATAL_FAILURE(start_good_pair(nodes));
  ASSERT_TRUE(nodes.start("gamma")); // same ports, its own topology without a tls section
  expect_gamma_refused(nodes);
}

} // namespace
