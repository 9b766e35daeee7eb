// Stop sequences: the first occurrence of any of them ends the text; a tail that may still
// become one is held back while streaming.
#include <gtest/gtest.h>

#include "serving/core/stop_text.hpp"

namespace llmos::serving {
namespace {

TEST(stop_text, the_earliest_stop_sequence_ends_the_text) {
  auto s = scan_stops("Once upon a time. The end.", {"end", "."});
  ASSERT_TRUE(s.stopped_at);
  EXPECT_EQ(*s.stopped_at, 16u); // the first "."
  EXPECT_EQ(s.safe, 16u);
}

TEST(stop_text, a_tail_that_may_become_a_stop_sequence_is_held_back) {
  auto s = scan_stops("Lily said: The E", {"The End"});
  EXPECT_FALSE(s.stopped_at);
  EXPECT_EQ(s.safe, 11u); // "The E" waits
  s = scan_stops("Lily said: The Ex", {"The End"});
  EXPECT_EQ(s.safe, 17u); // no longer a prefix: all of it goes
  s = scan_stops("abc", {});
  EXPECT_EQ(s.safe, 3u);
  s = scan_stops("abc", {""});
  EXPECT_EQ(s.safe, 3u);
  EXPECT_FALSE(s.stopped_at);
}

TEST(stop_text, the_longest_held_tail_wins_over_shorter_ones) {
  auto s = scan_stops("xx\n\nYo", {"\n\nYou:", "o!"});
  EXPECT_EQ(s.safe, 2u);
}

} // namespace
} // namespace llmos::serving
