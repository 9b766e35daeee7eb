// llmos-node's command line: our options, CAF's pass-through, and refusals that name the option.
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/options.hpp"

namespace {

caf::expected<llmos::node_options> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "llmos-node");
  return llmos::parse_node_options(static_cast<int>(args.size()), args.data());
}

TEST(node_options, reads_topology_node_and_threads) {
  auto o = parse({"--topology", "c.yaml", "--node", "beta", "--threads", "1", "--log", "debug",
                  "--rpc-port", "4711"});
  ASSERT_TRUE(o) << llmos::describe(o.error());
  EXPECT_EQ(o->topology_path, "c.yaml");
  EXPECT_EQ(o->node, "beta");
  EXPECT_EQ(o->threads, 1u);
  EXPECT_EQ(o->log_level, "debug");
  EXPECT_EQ(o->rpc_port, 4711);
  EXPECT_TRUE(o->caf_args.empty());
}

TEST(node_options, defaults_are_the_embedded_node) {
  auto o = parse({});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->topology_path.empty());
  EXPECT_EQ(o->threads, 2u);
  EXPECT_FALSE(o->help);
}

TEST(node_options, caf_options_pass_through_in_order) {
  auto o = parse(
      {"--scheduler.max-threads=1", "-n", "a", "--middleman.enable-automatic-connections=false"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->node, "a");
  EXPECT_EQ(o->caf_args,
            (std::vector<std::string>{"--scheduler.max-threads=1",
                                      "--middleman.enable-automatic-connections=false"}));
}

TEST(node_options, unknown_option_is_refused_by_name) {
  auto o = parse({"--topolgy", "x.yaml"});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().code(), static_cast<uint8_t>(llmos::error_code::bad_option));
  EXPECT_NE(llmos::describe(o.error()).find("topolgy"), std::string::npos);
}

TEST(node_options, bad_values_are_refused) {
  EXPECT_FALSE(parse({"--threads", "0"}));
  EXPECT_FALSE(parse({"--threads", "many"}));
  auto o = parse({"--log", "loud"});
  ASSERT_FALSE(o);
  EXPECT_NE(llmos::describe(o.error()).find("--log must be"), std::string::npos);
}

/// An option with a default and bounds: `field` holds `fallback` without `--option` and `read`
/// after `--option given`, and each of `bad` is refused with a message naming the option.
template <class T>
void expect_bounded(const char* option, T llmos::node_options::*field,
                    std::type_identity_t<T> fallback, const char* given,
                    std::type_identity_t<T> read, std::vector<const char*> bad) {
  const std::string flag = std::string{"--"} + option;
  auto o = parse({});
  ASSERT_TRUE(o);
  EXPECT_EQ((*o).*field, fallback) << flag;
  o = parse({flag.c_str(), given});
  ASSERT_TRUE(o) << flag;
  EXPECT_EQ((*o).*field, read) << flag;
  for (const char* value : bad) {
    auto refused = parse({flag.c_str(), value});
    ASSERT_FALSE(refused) << flag << " " << value;
    EXPECT_NE(llmos::describe(refused.error()).find(option), std::string::npos) << value;
  }
}

TEST(node_options, rpc_nice_is_off_by_default_and_bounded) {
  expect_bounded("rpc-nice", &llmos::node_options::rpc_nice, 0, "19", 19, {"-1", "20", "low"});
}

TEST(node_options, rpc_busy_rate_is_on_by_default_and_bounded) {
  expect_bounded("rpc-busy-rate", &llmos::node_options::rpc_busy_rate, 4000, "0", 0,
                 {"-1", "1e8", "fast"});
}

TEST(node_options, help_is_reported) {
  auto o = parse({"--help"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->help);
  EXPECT_NE(o->help_text.find("--topology"), std::string::npos);
}

} // namespace
