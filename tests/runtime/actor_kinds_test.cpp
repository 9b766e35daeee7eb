// The actor-kind table: lookup, config validation with defaults and normalisation, and the
// did-you-mean helper its messages rely on.
#include "llmos/runtime/actor_kinds.hpp"

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "test_kinds.hpp"

namespace llmos {
namespace {

using config_map = std::map<std::string, std::string>;

/// The message of a refused validation, after checking its code.
std::string refusal(const actor_kind_table& kinds, const std::string& kind,
                    const config_map& config, error_code expected = error_code::bad_config) {
  auto result = kinds.validate(kind, config);
  EXPECT_FALSE(result) << "validation of kind " << kind << " should have failed";
  if (result)
    return "";
  EXPECT_EQ(result.error().category(), error_category);
  EXPECT_EQ(result.error().code(), static_cast<uint8_t>(expected));
  return describe(result.error());
}

TEST(actor_kind_table, names_are_sorted_and_find_returns_the_kind) {
  auto kinds = test::make_test_kinds();
  EXPECT_EQ(kinds.names(), (std::vector<std::string>{"device", "trainer"}));
  ASSERT_NE(kinds.find("device"), nullptr);
  EXPECT_EQ(kinds.find("device")->fields.size(), 2u);
  EXPECT_EQ(kinds.find("gpu"), nullptr);
}

TEST(actor_kind_table, add_replaces_a_kind_of_the_same_name) {
  auto kinds = test::make_test_kinds();
  kinds.add({"device", "replacement", {}, nullptr});
  ASSERT_NE(kinds.find("device"), nullptr);
  EXPECT_EQ(kinds.find("device")->help, "replacement");
  EXPECT_EQ(kinds.names().size(), 2u);
}

TEST(actor_kind_table, fills_defaults_and_keeps_given_values) {
  auto kinds = test::make_test_kinds();
  auto device = kinds.validate("device", {});
  ASSERT_TRUE(device) << describe(device.error());
  EXPECT_EQ(*device, (config_map{{"threads", "1"}, {"type", "cpu"}}));
  auto trainer = kinds.validate("trainer", {{"lr", "1e-3"}, {"steps", "+20"}});
  ASSERT_TRUE(trainer) << describe(trainer.error());
  // note has no default, so a config without it leaves it absent rather than "".
  EXPECT_EQ(*trainer, (config_map{{"lr", "1e-3"}, {"shuffle", "true"}, {"steps", "+20"}}));
}

TEST(actor_kind_table, booleans_are_normalised) {
  auto kinds = test::make_test_kinds();
  for (auto [written, stored] : std::vector<std::pair<std::string, std::string>>{
           {"yes", "true"}, {"No", "false"}, {"1", "true"}, {"0", "false"}, {"TRUE", "true"}}) {
    auto result = kinds.validate("trainer", {{"lr", "0.1"}, {"shuffle", written}});
    ASSERT_TRUE(result) << written;
    EXPECT_EQ(result->at("shuffle"), stored) << written;
  }
  auto msg = refusal(kinds, "trainer", {{"lr", "0.1"}, {"shuffle", "maybe"}});
  EXPECT_EQ(msg.rfind("bad_config: config key 'shuffle'", 0), 0u) << msg;
  EXPECT_NE(msg.find("true or false"), std::string::npos) << msg;
}

/// Every value in `good` is accepted as `kind`'s `key`, and every one in `bad` refused with a
/// message holding each of `words`.
void expect_values(const std::string& kind, const std::string& key, std::vector<std::string> good,
                   std::vector<std::string> bad, std::vector<std::string> words) {
  auto kinds = test::make_test_kinds();
  for (const auto& value : good)
    EXPECT_TRUE(kinds.validate(kind, {{key, value}})) << value;
  for (const auto& value : bad) {
    auto msg = refusal(kinds, kind, {{key, value}});
    for (const auto& word : words)
      EXPECT_NE(msg.find(word), std::string::npos) << "'" << value << "': " << msg;
  }
}

TEST(actor_kind_table, integers_need_digits_with_optional_sign) {
  // The kind's help is shown with the refusal.
  expect_values("device", "threads", {"0", "-3", "+4", "123456789"},
                {"", "1.5", "abc", "4x", "-", "99999999999999999999"},
                {"config key 'threads' must be an integer", "intra-op threads"});
}

TEST(actor_kind_table, numbers_must_be_consumed_entirely) {
  expect_values("trainer", "lr", {"1", "-0.5", "1e-3", "+2.5E2"},
                {"", "1.5x", "nan", "inf", " 1", "1,5"}, {"config key 'lr' must be a number"});
}

TEST(actor_kind_table, choices_are_enforced_with_a_suggestion) {
  auto kinds = test::make_test_kinds();
  EXPECT_TRUE(kinds.validate("device", {{"type", "cuda"}}));
  auto msg = refusal(kinds, "device", {{"type", "cdua"}});
  EXPECT_NE(msg.find("config key 'type' must be one of cpu, cuda"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'cuda'?"), std::string::npos) << msg;
  msg = refusal(kinds, "device", {{"type", "tpu-v4"}});
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

TEST(actor_kind_table, unknown_keys_list_the_known_ones) {
  auto kinds = test::make_test_kinds();
  auto msg = refusal(kinds, "device", {{"thread", "2"}});
  EXPECT_NE(msg.find("config key 'thread' is not known by kind 'device'"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("did you mean 'threads'?"), std::string::npos) << msg;
  EXPECT_NE(msg.find("known keys: threads, type"), std::string::npos) << msg;
  msg = refusal(kinds, "device", {{"memory_limit", "2"}});
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
  EXPECT_NE(msg.find("known keys: threads, type"), std::string::npos) << msg;
}

TEST(actor_kind_table, required_keys_must_be_present) {
  auto kinds = test::make_test_kinds();
  auto msg = refusal(kinds, "trainer", {{"shuffle", "no"}});
  EXPECT_NE(msg.find("config key 'lr' is required by kind 'trainer'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("learning rate"), std::string::npos) << msg;
}

TEST(actor_kind_table, unknown_kind_lists_the_known_kinds) {
  auto kinds = test::make_test_kinds();
  auto msg = refusal(kinds, "devise", {}, error_code::unknown_kind);
  EXPECT_NE(msg.find("'devise'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'device'?"), std::string::npos) << msg;
  EXPECT_NE(msg.find("known kinds: device, trainer"), std::string::npos) << msg;
}

TEST(suggest, closest_match_finds_typos_within_two_edits) {
  const std::vector<std::string> keys{"name", "host", "port", "rpc_port", "devices", "actors"};
  EXPECT_EQ(closest_match("prot", keys), "port"); // a swap counts as one edit
  EXPECT_EQ(closest_match("rpcport", keys), "rpc_port");
  EXPECT_EQ(closest_match("device", keys), "devices");
  EXPECT_EQ(closest_match("hots", keys), "host");
  EXPECT_EQ(closest_match("completely_else", keys), "");
  EXPECT_EQ(closest_match("x", keys), ""); // too short to mean anything
  EXPECT_EQ(closest_match("anything", {}), "");
}

TEST(suggest, ties_go_to_the_earlier_candidate) {
  EXPECT_EQ(closest_match("cat", {"car", "cab"}), "car");
  EXPECT_EQ(closest_match("cat", {"cab", "car"}), "cab");
}

TEST(suggest, edit_distance_counts_insertions_deletions_substitutions_and_swaps) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("port", "prot"), 1u);
  EXPECT_EQ(join_words({"a", "b", "c"}), "a, b, c");
}

TEST(config_integer, reads_within_bounds_and_names_key_bounds_and_value_otherwise) {
  const config_map config{
      {"threads", "4"}, {"queue", "0"}, {"huge", "99999999999999999999"}, {"word", "four"}};
  auto threads = config_integer(config, "threads", 1, 8);
  ASSERT_TRUE(threads);
  EXPECT_EQ(*threads, 4);
  auto low = config_integer(config, "queue", 1, 10);
  ASSERT_FALSE(low);
  EXPECT_EQ(describe(low.error()),
            describe(make_llmos_error(error_code::bad_config,
                                      "config key 'queue' must be from 1 to 10, got 0")));
  for (const char* key : {"huge", "word", "absent"}) {
    auto refused = config_integer(config, key, 0, 10);
    ASSERT_FALSE(refused) << key;
    EXPECT_NE(describe(refused.error()).find(std::string{"'"} + key + "'"), std::string::npos)
        << describe(refused.error());
  }
}

} // namespace
} // namespace llmos
