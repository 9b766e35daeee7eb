// Distribution drift: how far what a model sees now (or predicts now) has moved from what it
// saw before, as a population stability index (PSI) over histograms. Inputs are summarised by a
// text_profile (text length and a hashed bag of words), predictions by a label_histogram. Both
// can remove what they added, so that a sliding window of recent requests is kept exactly.
// Rule of thumb for PSI: below 0.1 no change, 0.1 to 0.25 some, above 0.25 a real shift.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmos::feedback {

/// Population stability index of `actual` against `expected`: both histograms are normalised
/// to proportions, proportions below `floor` are raised to it (an empty bin would make the log
/// infinite), and the result is sum (a - e) * ln(a / e). Precondition: equal sizes (NaN
/// otherwise). 0 when either histogram is empty or all zero: no evidence, no drift.
double psi(const std::vector<double>& expected, const std::vector<double>& actual,
           double floor = 1e-4);

/// Histograms of one population of texts.
class text_profile {
public:
  static constexpr std::size_t length_bins = 12;
  static constexpr std::size_t token_buckets = 64;

  text_profile();

  /// Counts `text`: its word count in lengths(), each of its lower-cased words in tokens().
  void add(std::string_view text);

  /// Takes back an add(text) (the caller guarantees it was added).
  void remove(std::string_view text);

  /// Texts by word count: bin 0 holds 0 words, bin k holds [2^(k-1), 2^k) words, the last bin
  /// 1024 words and more.
  const std::vector<double>& lengths() const { return lengths_; }

  /// Words (split on white space, ASCII lower-cased) by XXH3 hash modulo token_buckets.
  const std::vector<double>& tokens() const { return tokens_; }

  /// Texts added (minus removed).
  uint64_t count() const { return count_; }

  /// The length bin of a text of `words` words.
  static std::size_t length_bin(uint64_t words);

  /// The token bucket of `word` (already lower-cased).
  static std::size_t token_bucket(std::string_view word);

private:
  void count_text(std::string_view text, double sign);

  std::vector<double> lengths_;
  std::vector<double> tokens_;
  uint64_t count_ = 0;
};

/// Counts per label, for drift of what a classifier predicts.
class label_histogram {
public:
  void add(const std::string& label);

  /// Takes back an add(label).
  void remove(const std::string& label);

  uint64_t count() const { return count_; }

  /// The count of `label` (0 for labels never seen).
  uint64_t of(const std::string& label) const;

  const std::map<std::string, uint64_t>& counts() const { return counts_; }

  /// PSI of this histogram against `baseline`, aligned over the union of their labels (a label
  /// only one side has is an empty bin on the other).
  double psi_against(const label_histogram& baseline) const;

private:
  std::map<std::string, uint64_t> counts_;
  uint64_t count_ = 0;
};

} // namespace llmos::feedback
