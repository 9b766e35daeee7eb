// People's labels: kept in a file that survives (rewritten atomically), checked before anything
// is written, applied over every other label, followed by augmented copies.
#include <fstream>

#include <gtest/gtest.h>

#include "../../temp_folder.hpp"
#include "dataset/annotate/human_labels.hpp"
#include "llmos/messages/error.hpp"

using namespace llmos::dataset;

namespace {

TEST(human_labels, a_later_label_replaces_an_earlier_one_and_the_file_keeps_them) {
  llmos::test::temp_folder dir{"human_labels"};
  const auto file = human_labels_file(dir.path().string(), "notes");
  auto none = read_human_labels(file);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(add_human_labels(file, {{"r1", "spam"}, {"r2", "ham"}}));
  auto all = add_human_labels(file, {{"r1", "ham"}});
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::map<std::string, std::string>{{"r1", "ham"}, {"r2", "ham"}}));
  auto read = read_human_labels(file);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, *all);
}

TEST(human_labels, a_bad_entry_is_named_and_nothing_is_written) {
  llmos::test::temp_folder dir{"human_labels"};
  const auto file = human_labels_file(dir.path().string(), "notes");
  ASSERT_TRUE(add_human_labels(file, {{"r1", "spam"}}));
  auto refused = add_human_labels(file, {{"r2", "ham"}, {"r3", ""}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_NE(llmos::describe(refused.error()).find("label 2 (record r3)"), std::string::npos)
      << llmos::describe(refused.error());
  EXPECT_FALSE(add_human_labels(file, {{std::string(2000, 'x'), "ham"}}));
  EXPECT_FALSE(add_human_labels(file, {{"r4", std::string(300, 'x')}}));
  EXPECT_EQ(read_human_labels(file)->size(), 1u);
}

TEST(human_labels, a_damaged_file_is_an_error_naming_its_line) {
  llmos::test::temp_folder dir{"human_labels"};
  const auto file = human_labels_file(dir.path().string(), "notes");
  ASSERT_TRUE(add_human_labels(file, {{"r1", "spam"}}));
  std::ofstream{file, std::ios::app} << "{\"id\": 7}\n";
  auto read = read_human_labels(file);
  ASSERT_FALSE(read);
  EXPECT_NE(llmos::describe(read.error()).find("human-labels.jsonl:2"), std::string::npos)
      << llmos::describe(read.error());
  // ... and it is not rewritten over (what people gave is never lost by a later add).
  EXPECT_FALSE(add_human_labels(file, {{"r2", "ham"}}));
}

TEST(human_labels, they_outrank_every_label_and_augmented_copies_follow) {
  std::vector<record> records(4);
  records[0].id = "a";
  records[0].label = "sport"; // gold or a rule's: a person says otherwise
  records[1].id = "b";        // unlabelled
  records[2].id = "a#aug1";
  records[2].label = "sport";
  records[2].augmented = true;
  records[3].id = "c";
  records[3].label = "tech";
  auto n = apply_human_labels(records, {{"a", "poem"}, {"b", "tech"}, {"c", "tech"}, {"zz", "x"}});
  EXPECT_EQ(n.applied, 2u);
  EXPECT_EQ(n.unchanged, 1u);
  EXPECT_EQ(n.unknown, 1u);
  EXPECT_EQ(records[0].label, "poem");
  EXPECT_EQ(records[1].label, "tech");
  EXPECT_EQ(records[2].label, "poem");
  EXPECT_EQ(records[0].meta["label_source"], "human");
}

} // namespace
