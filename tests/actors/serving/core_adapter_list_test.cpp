// The `adapters` key of a language server: references parsed, mistakes refused by entry.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "serving/core/adapter_list.hpp"

namespace llmos::serving {
namespace {

TEST(adapter_list, reads_names_and_versioned_references) {
  auto list = parse_adapters(" zorp, pip@3 ,story-v2@production", "stories");
  ASSERT_TRUE(list) << describe(list.error());
  EXPECT_EQ(*list, (std::vector<std::string>{"zorp", "pip@3", "story-v2@production"}));
  EXPECT_EQ(adapter_name("pip@3"), "pip");
  EXPECT_EQ(adapter_name("zorp"), "zorp");
  auto none = parse_adapters("  ", "stories");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(adapter_list, refuses_bad_entries_by_name) {
  auto expect_refused = [](const std::string& text, const std::string& says) {
    auto list = parse_adapters(text, "stories");
    ASSERT_FALSE(list) << text;
    EXPECT_NE(describe(list.error()).find(says), std::string::npos) << describe(list.error());
  };
  expect_refused("zorp,,pip", "entry ''");
  expect_refused("zorp@", "entry 'zorp@'");
  expect_refused("zo rp", "entry 'zo rp'");
  expect_refused("zorp,pip,zorp@2", "'zorp' is listed twice");
  expect_refused("stories@1", "the served model itself");
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += (i ? "," : "") + std::string("a") + std::to_string(i);
  expect_refused(many, "64 adapters at most");
}

} // namespace
} // namespace llmos::serving
