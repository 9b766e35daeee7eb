// Easy Data Augmentation for text (Wei & Zou 2019, "EDA: Easy Data Augmentation Techniques for
// Boosting Performance on Text Classification Tasks"): synonym replacement, random insertion,
// random swap and random deletion, each changing about rate × (number of words) words.
//
// Tokenisation is deliberately minimal: a word is a maximal run of non-whitespace (ASCII
// whitespace), so punctuation stays attached ("money!") and the output is the words joined by
// single spaces (line breaks and runs of spaces are not kept). Thesaurus and stop-word lookups
// use the token's core, the token with leading and trailing ASCII punctuation removed, compared
// lowercased; a replacement keeps the punctuation around the core and adapts to its
// capitalisation ("Happy," → "Glad,"). Text without spaces (Chinese) is one word: only swaps and
// deletions of whole space-separated runs can apply, so EDA is for English-like text.
//
// Random numbers come from uniform_below, not std::uniform_int_distribution, whose output
// differs between standard libraries: the same seed gives the same data set everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/augment/stop_words.hpp"
#include "dataset/augment/thesaurus.hpp"

namespace llmos::dataset {

/// The four EDA operations.
enum class eda_operation : uint8_t {
  synonym_replacement,
  random_insertion,
  random_swap,
  random_deletion,
};

/// "synonym_replacement", "random_insertion", "random_swap", "random_deletion".
std::string_view to_string(eda_operation op);

/// A number in [0, n) (n > 0), the same on every platform for the same generator state.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

/// True with probability p, the same on every platform.
bool bernoulli(std::mt19937_64& rng, double p);

/// Splits on ASCII whitespace.
std::vector<std::string> split_words(std::string_view text);

/// The token without leading and trailing ASCII punctuation ("(Hello!" → "Hello").
std::string_view token_core(std::string_view token);

/// The EDA operations over one thesaurus and stop-word list (both must outlive it).
class eda {
public:
  eda(const thesaurus& th, const stop_words& sw) : thesaurus_(th), stop_words_(sw) {}

  /// Words an operation changes: max(1, floor(rate × words)), as in the paper.
  static std::size_t change_count(double rate, std::size_t words);

  /// True when the token is no stop word and its core has synonyms.
  bool replaceable(std::string_view token) const;

  /// True when the token (or its core) is a stop word.
  bool is_stop_word(std::string_view token) const;

  /// Replaces up to n distinct replaceable words, each by one of its synonyms.
  void synonym_replacement(std::vector<std::string>& words, std::size_t n,
                           std::mt19937_64& rng) const;

  /// n times: inserts a synonym of a random replaceable word at a random position.
  void random_insertion(std::vector<std::string>& words, std::size_t n, std::mt19937_64& rng) const;

  /// n times: swaps two words at distinct random positions.
  static void random_swap(std::vector<std::string>& words, std::size_t n, std::mt19937_64& rng);

  /// Deletes each word with probability p; always keeps at least one word.
  static void random_deletion(std::vector<std::string>& words, double p, std::mt19937_64& rng);

  /// Applies `op` with strength `rate` to `text` and returns the new text.
  std::string apply(eda_operation op, std::string_view text, double rate,
                    std::mt19937_64& rng) const;

private:
  const thesaurus& thesaurus_;
  const stop_words& stop_words_;
};

} // namespace llmos::dataset
