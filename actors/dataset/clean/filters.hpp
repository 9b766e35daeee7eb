// Filtering rules that judge one record at a time: length_filter (too short or too long,
// counted in code points so that Chinese text is not judged by its byte count) and
// non_text_filter (too little of it is language: base64 blobs, ASCII art, tables of numbers).
// Refused records go to the quarantine with the measured value in the reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "dataset/clean/rule_stats.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// Options of length_filter (bounds inclusive, in code points).
struct length_options {
  std::size_t min_chars = 0;
  std::size_t max_chars = std::numeric_limits<std::size_t>::max();
};

/// The rule: removes records shorter than min_chars or longer than max_chars.
rule_stats length_filter(std::vector<record>& records, quarantine& q,
                         const length_options& options);

/// Options of non_text_filter.
struct non_text_options {
  double min_text_ratio = 0.5; ///< minimum share of text code points
  /// Latin/Cyrillic/Greek letters count only inside words of at most this many code points:
  /// a 76-character base64 line is almost all letters, but no word.
  std::size_t max_word_length = 40;
};

/// The share of `text`'s code points that are text: blanks, letters in words of at most
/// max_word_length, and letters of scripts written without spaces (CJK, kana, Thai, ...);
/// 1 for an empty text.
double text_ratio(std::string_view text, std::size_t max_word_length = 40);

/// The rule: removes records whose text_ratio is below min_text_ratio.
rule_stats non_text_filter(std::vector<record>& records, quarantine& q,
                           const non_text_options& options = {});

} // namespace llmos::dataset
