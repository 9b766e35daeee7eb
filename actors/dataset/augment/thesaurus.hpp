// The English thesaurus used by augmentation (synonym replacement and random insertion): the
// MyThes file of Debian's mythes-en-us (derived from WordNet), loaded into a hash map from a
// lowercase word to its synonyms. Antonyms are dropped; "(similar term)", "(related term)" and
// "(generic term)" entries are kept with the annotation stripped, as the closest stand-ins
// WordNet offers. Multi-word head words and synonyms ("urban center") are skipped: augmentation
// works on whitespace tokens, and a phrase would break the one-token-for-one-token replacement
// that keeps a sentence's length and the stop-word guarantee checkable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::dataset {

/// The thesaurus' location under data_dir().
inline constexpr const char* thesaurus_relative_path =
    "mythes-en-us/usr/share/mythes/th_en_US_v2.dat";

class thesaurus {
public:
  /// An empty thesaurus (every word has no synonyms).
  thesaurus() = default;

  /// Reads a MyThes .dat file (UTF-8 or ISO8859-1); io_failed names the path and line.
  static caf::expected<thesaurus> load(const std::string& path);

  /// Reads data_path(thesaurus_relative_path); io_failed says to run tools/setup/setup.sh.
  static caf::expected<thesaurus> load_default();

  /// Builds one from word → synonyms pairs (tests, other sources); keys are lowercased.
  static thesaurus
  from_entries(const std::vector<std::pair<std::string, std::vector<std::string>>>& entries);

  /// The synonyms of `word` (looked up lowercased); empty when it has none.
  const std::vector<std::string>& synonyms(std::string_view word) const;

  /// Number of head words with at least one synonym.
  std::size_t size() const { return entries_.size(); }

  /// Total number of (head word, synonym) pairs.
  std::size_t pair_count() const;

private:
  void add(const std::string& head, std::string synonym);

  std::unordered_map<std::string, std::vector<std::string>> entries_;
};

/// ASCII lowercase (the thesaurus and stop-word lists are English; other bytes pass unchanged).
std::string ascii_lower(std::string_view s);

} // namespace llmos::dataset
