// Stop words for augmentation: the stopwords-iso list (npm stopwords-iso, one JSON object mapping
// a language code to an array of words). EDA never replaces a stop word and never inserts a
// synonym of one, because swapping "the" for "thee" adds noise, not variety.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::dataset {

/// The stop-word list's location under data_dir().
inline constexpr const char* stop_words_relative_path = "stopwords-iso/package/stopwords-iso.json";

class stop_words {
public:
  /// An empty list.
  stop_words() = default;

  /// Reads `lang`'s list from a stopwords-iso JSON file; io_failed names the path, bad_config
  /// the missing language.
  static caf::expected<stop_words> load(const std::string& path, const std::string& lang = "en");

  /// Reads data_path(stop_words_relative_path); io_failed says to run tools/setup/setup.sh.
  static caf::expected<stop_words> load_default(const std::string& lang = "en");

  /// A list from words (tests); stored lowercased.
  static stop_words from_words(const std::vector<std::string>& words);

  /// True when `word` (compared lowercased) is a stop word.
  bool contains(std::string_view word) const;

  std::size_t size() const { return words_.size(); }

private:
  std::unordered_set<std::string> words_;
};

} // namespace llmos::dataset
