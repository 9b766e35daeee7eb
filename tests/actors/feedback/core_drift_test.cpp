// Drift: PSI against values worked out by hand, the floor for empty bins, the length bins and
// token buckets of known texts, and label histograms aligned over the union of their labels.
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "feedback/core/drift.hpp"

using namespace llmos::feedback;

namespace {

// expected {0.5, 0.5}, actual {0.9, 0.1}: (0.9-0.5) ln(0.9/0.5) + (0.1-0.5) ln(0.1/0.5)
//   = 0.4 ln 1.8 - 0.4 ln 0.2 = 0.4 * 0.5877867 + 0.4 * 1.6094379 = 0.8788898
constexpr double psi_50_50_vs_90_10 = 0.8788898309344878;
// expected {1, 0}, actual {0, 1}, both empty bins floored at 1e-4:
//   (1e-4 - 1) ln(1e-4) + (1 - 1e-4) ln(1e4) = 2 (1 - 1e-4) ln(1e4) = 18.4188387
constexpr double psi_disjoint = 18.41883867587797;

double sum(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

TEST(psi, matches_the_value_worked_out_by_hand) {
  EXPECT_NEAR(psi({0.5, 0.5}, {0.9, 0.1}), psi_50_50_vs_90_10, 1e-12);
  // Counts are normalised: the same proportions give the same index.
  EXPECT_NEAR(psi({50, 50}, {9, 1}), psi_50_50_vs_90_10, 1e-12);
  // PSI is symmetric in the two populations.
  EXPECT_NEAR(psi({9, 1}, {50, 50}), psi_50_50_vs_90_10, 1e-12);
}

TEST(psi, identical_distributions_have_none) {
  EXPECT_EQ(psi({1, 2, 3}, {1, 2, 3}), 0.0);
  EXPECT_EQ(psi({1, 2, 3}, {2, 4, 6}), 0.0);
}

TEST(psi, empty_bins_are_floored) {
  EXPECT_NEAR(psi({1, 0}, {0, 1}), psi_disjoint, 1e-9);
  // A coarser floor caps the index lower: 2 (1 - 0.01) ln(100).
  EXPECT_NEAR(psi({1, 0}, {0, 1}, 0.01), 2 * 0.99 * std::log(100.0), 1e-12);
}

TEST(psi, no_evidence_is_no_drift_and_mismatched_sizes_are_nan) {
  EXPECT_EQ(psi({}, {}), 0.0);
  EXPECT_EQ(psi({0, 0}, {1, 2}), 0.0);
  EXPECT_EQ(psi({1, 2}, {0, 0}), 0.0);
  EXPECT_TRUE(std::isnan(psi({1, 2}, {1, 2, 3})));
}

TEST(text_profile, length_bins_follow_log2_of_the_word_count) {
  const std::vector<std::pair<uint64_t, std::size_t>> cases{
      {0, 0},  {1, 1},  {2, 2},   {3, 2},    {4, 3},     {7, 3},     {8, 4},
      {15, 4}, {16, 5}, {511, 9}, {512, 10}, {1023, 10}, {1024, 11}, {100000, 11}};
  for (const auto& [words, bin] : cases)
    EXPECT_EQ(text_profile::length_bin(words), bin) << words << " words";
}

TEST(text_profile, counts_texts_by_length_and_words_by_bucket) {
  text_profile p;
  EXPECT_EQ(p.lengths().size(), 12u);
  EXPECT_EQ(p.tokens().size(), 64u);
  p.add("");
  p.add("Hello");
  p.add("  hello\tWORLD\n");
  p.add("one two three four five");
  p.add(std::string(2000, 'x')); // one long word
  std::string long_text;
  for (int i = 0; i < 1500; ++i)
    long_text += "w ";
  p.add(long_text);
  EXPECT_EQ(p.count(), 6u);
  std::vector<double> lengths(12, 0.0);
  lengths[0] = 1;  // ""
  lengths[1] = 2;  // "Hello", the long word
  lengths[2] = 1;  // hello WORLD
  lengths[3] = 1;  // five words
  lengths[11] = 1; // 1500 words
  EXPECT_EQ(p.lengths(), lengths);
  // Words are lower-cased before hashing: "Hello", "hello" and "WORLD" count as hello, world.
  std::vector<double> tokens(64, 0.0);
  for (const char* w : {"hello", "hello", "world", "one", "two", "three", "four", "five"})
    tokens[text_profile::token_bucket(w)] += 1;
  tokens[text_profile::token_bucket(std::string(2000, 'x'))] += 1;
  tokens[text_profile::token_bucket("w")] += 1500;
  EXPECT_EQ(p.tokens(), tokens);
  EXPECT_EQ(sum(p.tokens()), 1.0 + 2.0 + 5.0 + 1.0 + 1500.0);
}

TEST(text_profile, token_buckets_are_stable_hashes) {
  // XXH3 gives the same value on every machine and in every release; a baseline profile saved
  // today must still compare with tomorrow's requests.
  EXPECT_EQ(text_profile::token_bucket("hello"), 61u);
  EXPECT_EQ(text_profile::token_bucket("spam"), 33u);
  text_profile upper, lower;
  upper.add("FREE Money");
  lower.add("free money");
  EXPECT_EQ(upper.tokens(), lower.tokens());
}

TEST(text_profile, remove_takes_back_an_add) {
  text_profile p;
  p.add("the quick brown fox");
  p.add("jumps");
  p.remove("the quick brown fox");
  EXPECT_EQ(p.count(), 1u);
  text_profile only;
  only.add("jumps");
  EXPECT_EQ(p.lengths(), only.lengths());
  EXPECT_EQ(p.tokens(), only.tokens());
}

TEST(label_histogram, psi_is_aligned_over_the_union_of_labels) {
  label_histogram baseline, recent;
  for (int i = 0; i < 50; ++i) {
    baseline.add("spam");
    baseline.add("ham");
  }
  for (int i = 0; i < 9; ++i)
    recent.add("spam");
  recent.add("ham");
  EXPECT_NEAR(recent.psi_against(baseline), psi_50_50_vs_90_10, 1e-12);
  EXPECT_EQ(baseline.psi_against(baseline), 0.0);

  label_histogram only_a, only_b;
  only_a.add("a");
  only_b.add("b");
  EXPECT_NEAR(only_b.psi_against(only_a), psi_disjoint, 1e-9);
  EXPECT_EQ(only_b.psi_against(label_histogram{}), 0.0) << "no baseline, no evidence";
}

TEST(label_histogram, counts_and_removes) {
  label_histogram h;
  h.add("x");
  h.add("x");
  h.add("y");
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.of("x"), 2u);
  h.remove("x");
  h.remove("y");
  h.remove("never added");
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.of("y"), 0u);
  EXPECT_EQ(h.counts().size(), 1u) << "a label counted down to zero is dropped";
}

} // namespace
