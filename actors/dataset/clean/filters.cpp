#include "dataset/clean/filters.hpp"

#include <cstdio>
#include <string>

#include <utf8proc.h>

#include "dataset/clean/utf8.hpp"

namespace llmos::dataset {
namespace {

enum class kind : uint8_t { blank, cased_letter, other_letter, other };

kind kind_of(char32_t cp) {
  if (cp < 128) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v')
      return kind::blank;
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
      return kind::cased_letter;
    return kind::other;
  }
  if (cp == invalid_code_point)
    return kind::other;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
  case UTF8PROC_CATEGORY_ZS:
  case UTF8PROC_CATEGORY_ZL:
  case UTF8PROC_CATEGORY_ZP:
    return kind::blank;
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_MN: // combining accents belong to the letter before them
  case UTF8PROC_CATEGORY_MC:
  case UTF8PROC_CATEGORY_ME:
    return kind::cased_letter;
  case UTF8PROC_CATEGORY_LO: // CJK ideographs, kana, Hangul, Thai, Arabic, Hebrew, ...
    return kind::other_letter;
  default:
    return kind::other;
  }
}

std::string format_ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

} // namespace

double text_ratio(std::string_view text, std::size_t max_word_length) {
  std::size_t total = 0;
  std::size_t good = 0;
  std::size_t word_letters = 0; // cased letters of the current word, counted when it ends
  std::size_t word_length = 0;  // code points of the current word (anything but blanks)
  auto end_word = [&] {
    if (word_length <= max_word_length)
      good += word_letters;
    word_letters = word_length = 0;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto k = kind_of(next_code_point(text, i));
    ++total;
    switch (k) {
    case kind::blank:
      end_word();
      ++good;
      break;
    case kind::cased_letter:
      ++word_letters;
      ++word_length;
      break;
    case kind::other_letter:
      ++good;
      ++word_length;
      break;
    case kind::other:
      ++word_length;
      break;
    }
  }
  end_word();
  return total == 0 ? 1.0 : static_cast<double>(good) / static_cast<double>(total);
}

rule_stats length_filter(std::vector<record>& records, quarantine& q,
                         const length_options& options) {
  rule_stats stats{"length_filter", 0, 0, {}};
  std::vector<bool> keep(records.size(), true);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::size_t n = count_code_points(records[i].text);
    if (n < options.min_chars) {
      keep[i] = false;
      reject(stats, q, records[i],
             "too short: " + std::to_string(n) + " < " + std::to_string(options.min_chars) +
                 " characters");
    } else if (n > options.max_chars) {
      keep[i] = false;
      reject(stats, q, records[i],
             "too long: " + std::to_string(n) + " > " + std::to_string(options.max_chars) +
                 " characters");
    }
  }
  keep_flagged(records, keep);
  return stats;
}

rule_stats non_text_filter(std::vector<record>& records, quarantine& q,
                           const non_text_options& options) {
  rule_stats stats{"non_text_filter", 0, 0, {}};
  std::vector<bool> keep(records.size(), true);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const double ratio = text_ratio(records[i].text, options.max_word_length);
    if (ratio < options.min_text_ratio) {
      keep[i] = false;
      reject(stats, q, records[i],
             "text ratio " + format_ratio(ratio) + " < " + format_ratio(options.min_text_ratio));
    }
  }
  keep_flagged(records, keep);
  return stats;
}

} // namespace llmos::dataset
