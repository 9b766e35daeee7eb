// The shared text helpers.
#include <gtest/gtest.h>

#include "llmos/runtime/text.hpp"

namespace {

using llmos::text::trim;

TEST(text, trim_removes_blanks_at_both_ends_only) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim("\v\fx\f"), "x");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t\n"), "");
  EXPECT_EQ(trim("inner  space"), "inner  space");
}

TEST(text, trim_takes_the_characters_to_remove) {
  EXPECT_EQ(trim(" \tname\t ", " \t"), "name");
  EXPECT_EQ(trim("\nname ", " "), "\nname"); // only spaces
  EXPECT_EQ(trim("--x--", "-"), "x");
  static_assert(trim("  y ") == "y"); // usable in constant expressions
}

} // namespace
