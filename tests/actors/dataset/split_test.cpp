// Stratified splits: every label keeps its proportions (within one record), the assignment is
// deterministic, independent of input order and of other labels, and changes with the seed.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "dataset/split/split.hpp"
#include "llmos/messages/error.hpp"
#include "store_test_corpus.hpp"

using namespace llmos::dataset;

namespace {

std::vector<record> labelled(const std::map<std::string, int>& sizes) {
  std::vector<record> out;
  for (const auto& [label, n] : sizes)
    for (int i = 0; i < n; ++i) {
      record r;
      r.id = (label.empty() ? std::string{"none"} : label) + "/" + std::to_string(i);
      r.text = "text of " + r.id;
      r.label = label;
      out.push_back(std::move(r));
    }
  return out;
}

std::map<std::string, split_part> by_id(const std::vector<record>& records,
                                        const std::vector<split_part>& parts) {
  std::map<std::string, split_part> out;
  for (std::size_t i = 0; i < records.size(); ++i)
    out[records[i].id] = parts[i];
  return out;
}

// Per label: the count in each part is within one record of its exact share.
void expect_stratified(const std::vector<record>& records, const std::vector<split_part>& parts,
                       const split_spec& spec) {
  std::map<std::string, std::array<int, 3>> counts;
  for (std::size_t i = 0; i < records.size(); ++i)
    ++counts[records[i].label][static_cast<std::size_t>(parts[i])];
  const double fractions[] = {spec.train, spec.validation, spec.test};
  for (const auto& [label, c] : counts) {
    const int n = c[0] + c[1] + c[2];
    for (std::size_t p = 0; p < 3; ++p)
      EXPECT_LE(std::abs(c[p] - n * fractions[p]), 1.0)
          << "label '" << label << "' part " << to_string(static_cast<split_part>(p)) << ": "
          << c[p] << " of " << n;
  }
}

} // namespace

TEST(split, keeps_every_labels_proportions) {
  auto records = labelled({{"spam", 500}, {"ham", 1397}, {"rare", 7}, {"", 13}});
  for (const auto& spec :
       {split_spec{}, split_spec{0.6, 0.2, 0.2, 9}, split_spec{0.5, 0.5, 0, 3}}) {
    auto parts = assign_splits(records, spec);
    ASSERT_TRUE(parts) << llmos::describe(parts.error());
    ASSERT_EQ(parts->size(), records.size());
    expect_stratified(records, *parts, spec);
  }
  // Largest remainder per label: spam 400, ham 1117 (139.7 + 139.7 round up instead),
  // rare 5 (+1 validation, +1 test), unlabelled 11.
  auto parts = *assign_splits(records, split_spec{});
  EXPECT_EQ(std::count(parts.begin(), parts.end(), split_part::train), 400 + 1117 + 5 + 11);
}

TEST(split, rare_labels_stay_in_train) {
  auto records = labelled({{"one", 1}, {"two", 2}, {"five", 5}, {"many", 100}});
  auto ids = by_id(records, *assign_splits(records, split_spec{}));
  // A single record (and a pair: 0.2 of a record is not worth a validation or test slot) is
  // only useful for training.
  EXPECT_EQ(ids["one/0"], split_part::train);
  EXPECT_EQ(ids["two/0"], split_part::train);
  EXPECT_EQ(ids["two/1"], split_part::train);
  // Five records: 4 train and the remaining one to validation (the tie goes to the earlier part).
  int train = 0;
  int validation = 0;
  for (int i = 0; i < 5; ++i) {
    train += ids["five/" + std::to_string(i)] == split_part::train;
    validation += ids["five/" + std::to_string(i)] == split_part::validation;
  }
  EXPECT_EQ(train, 4);
  EXPECT_EQ(validation, 1);
}

TEST(split, deterministic_and_independent_of_input_order) {
  auto records = labelled({{"a", 211}, {"b", 97}, {"", 30}});
  auto first = by_id(records, *assign_splits(records, split_spec{}));
  EXPECT_EQ(first, by_id(records, *assign_splits(records, split_spec{})));
  std::mt19937 rng{42};
  for (int round = 0; round < 3; ++round) {
    std::shuffle(records.begin(), records.end(), rng);
    EXPECT_EQ(by_id(records, *assign_splits(records, split_spec{})), first);
  }
}

TEST(split, a_record_keeps_its_part_when_other_labels_change) {
  auto records = labelled({{"a", 200}, {"b", 50}});
  auto before = by_id(records, *assign_splits(records, split_spec{}));
  auto more = records;
  for (auto& extra : labelled({{"c", 40}, {"d", 3}}))
    more.push_back(std::move(extra));
  auto after = by_id(more, *assign_splits(more, split_spec{}));
  for (const auto& [id, part] : before)
    EXPECT_EQ(after[id], part) << id;
}

TEST(split, different_seeds_give_different_splits) {
  auto records = labelled({{"a", 300}, {"b", 300}});
  auto one = by_id(records, *assign_splits(records, split_spec{0.8, 0.1, 0.1, 1}));
  auto two = by_id(records, *assign_splits(records, split_spec{0.8, 0.1, 0.1, 2}));
  int moved = 0;
  for (const auto& [id, part] : one)
    moved += two[id] != part;
  // Two independent shuffles leave well under 80% of records where they were.
  EXPECT_GT(moved, 60);
}

TEST(split, fractions_must_sum_to_one) {
  auto records = labelled({{"a", 10}});
  for (const auto& spec : {split_spec{0.8, 0.1, 0.05, 1}, split_spec{0.9, 0.2, -0.1, 1},
                           split_spec{std::nan(""), 0.1, 0.1, 1}, split_spec{1.0, 0.1, 0.1, 1}}) {
    auto r = assign_splits(records, spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
    EXPECT_NE(llmos::describe(r.error()).find("split fraction"), std::string::npos)
        << llmos::describe(r.error());
  }
  EXPECT_TRUE(assign_splits(records, split_spec{0.7, 0.2, 0.1 + 1e-12, 1}));
  EXPECT_TRUE(assign_splits(records, split_spec{1.0, 0.0, 0.0, 1}));
  EXPECT_TRUE(assign_splits({}, split_spec{}));
}

TEST(split, split_stratified_moves_records_into_their_parts) {
  auto records = labelled({{"a", 50}, {"b", 20}});
  auto parts = *assign_splits(records, split_spec{});
  auto ids = by_id(records, parts);
  auto result = split_stratified(records, split_spec{});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->train.size() + result->validation.size() + result->test.size(), 70u);
  for (const auto& r : result->train)
    EXPECT_EQ(ids[r.id], split_part::train);
  for (const auto& r : result->validation)
    EXPECT_EQ(ids[r.id], split_part::validation);
  for (const auto& r : result->test)
    EXPECT_EQ(ids[r.id], split_part::test);
  auto train_texts = texts_of(records, parts, split_part::train);
  EXPECT_EQ(train_texts.size(), result->train.size());
}

TEST(split, english_fortune_categories_are_stratified) {
  auto records = test_corpus::english_fortunes();
  if (records.empty())
    GTEST_SKIP() << "fortunes not installed (run tools/setup/setup.sh)";
  auto parts = assign_splits(records, split_spec{0.7, 0.15, 0.15, 5});
  ASSERT_TRUE(parts);
  expect_stratified(records, *parts, split_spec{0.7, 0.15, 0.15, 5});
}
