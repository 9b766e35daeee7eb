// Class labels: sorted order, round trip through the joined text, refusals that list the labels.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/label_vocab.hpp"

namespace {

using llmos::model::label_vocab;

TEST(label_vocab, sorted_distinct_and_indexed) {
  label_vocab v{{"spam", "ham", "spam", "", "eggs"}};
  EXPECT_EQ(v.labels(), (std::vector<std::string>{"eggs", "ham", "spam"}));
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(*v.index("eggs"), 0);
  EXPECT_EQ(*v.index("spam"), 2);
  EXPECT_EQ(v.name(1), "ham");
}

TEST(label_vocab, from_counts_ignores_unlabelled) {
  auto v = label_vocab::from_counts({{"", 40}, {"spam", 3}, {"ham", 5}});
  EXPECT_EQ(v.labels(), (std::vector<std::string>{"ham", "spam"}));
}

TEST(label_vocab, join_round_trips) {
  label_vocab v{{"b c", "a", "ünïcode", "z-9"}};
  EXPECT_EQ(v.join(), "a\nb c\nz-9\nünïcode");
  EXPECT_EQ(label_vocab::parse(v.join()).labels(), v.labels());
  EXPECT_EQ(label_vocab::parse(label_vocab{}.join()).size(), 0u);
  EXPECT_EQ(label_vocab::parse("only").labels(), (std::vector<std::string>{"only"}));
}

TEST(label_vocab, unknown_label_lists_the_known_ones) {
  label_vocab v{{"spam", "ham"}};
  auto i = v.index("eggs");
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_EQ(llmos::describe(i.error()), "bad_params: unknown label 'eggs' (known: ham, spam)");
  EXPECT_FALSE(v.index("")); // between the labels in sorted order, still not one
}

} // namespace
