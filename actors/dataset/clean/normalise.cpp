#include "dataset/clean/normalise.hpp"

#include <array>
#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "dataset/clean/utf8.hpp"

namespace llmos::dataset {
namespace {

enum class char_class : uint8_t { keep, space, line_break, drop };

// Whitespace, line breaks and invisible junk, by Unicode category (after NFKC).
char_class classify(char32_t cp) {
  if (cp == '\n' || cp == 0x2028 || cp == 0x2029 || cp == 0x85)
    return char_class::line_break;
  if (cp == ' ' || cp == '\t' || cp == '\r' || cp == '\v' || cp == '\f')
    return char_class::space;
  if (cp == 0xFEFF)
    return char_class::drop;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
  case UTF8PROC_CATEGORY_ZS:
    return char_class::space;
  case UTF8PROC_CATEGORY_ZL:
  case UTF8PROC_CATEGORY_ZP:
    return char_class::line_break;
  case UTF8PROC_CATEGORY_CC:
    return char_class::drop;
  default:
    return char_class::keep;
  }
}

// What dedupe_key does with a code point: keep it, treat it as a word break, or drop it.
char_class key_class(char32_t cp) {
  const auto c = classify(cp);
  if (c == char_class::line_break || c == char_class::space)
    return char_class::space;
  if (c == char_class::drop)
    return c;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
  case UTF8PROC_CATEGORY_PC:
  case UTF8PROC_CATEGORY_PD:
  case UTF8PROC_CATEGORY_PS:
  case UTF8PROC_CATEGORY_PE:
  case UTF8PROC_CATEGORY_PI:
  case UTF8PROC_CATEGORY_PF:
  case UTF8PROC_CATEGORY_PO:
  case UTF8PROC_CATEGORY_CF: // zero-width joiners and the like would split otherwise equal keys
    return char_class::drop;
  default:
    return char_class::keep;
  }
}

// ASCII is by far the most common input: a table keeps it off utf8proc entirely (NFKC leaves
// ASCII unchanged, and case folding ASCII is tolower).
struct ascii_tables {
  std::array<char_class, 128> text{};
  std::array<char_class, 128> key{};
  ascii_tables() {
    for (char32_t c = 0; c < 128; ++c) {
      text[c] = classify(c);
      key[c] = key_class(c);
    }
  }
};

const ascii_tables& tables() {
  static const ascii_tables t;
  return t;
}

// `text` (valid UTF-8) through utf8proc with `flags`; the input unchanged if utf8proc refuses.
std::string map_utf8(std::string_view text, int flags) {
  utf8proc_uint8_t* mapped = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                              static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                              static_cast<utf8proc_option_t>(flags));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner{mapped, &std::free};
  if (n < 0 || mapped == nullptr)
    return std::string{text};
  return std::string{reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n)};
}

void append_ascii(std::string& out, std::string_view ascii, bool casefold) {
  if (!casefold) {
    out.append(ascii);
    return;
  }
  for (char c : ascii)
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
}

// Valid UTF-8 in NFKC (optionally case folded). Only the non-ASCII runs go through utf8proc,
// each with the ASCII character before it: an ASCII character is a starter that composes with
// nothing after it but combining marks, so normalising the runs alone gives the same result
// as normalising the whole text, several times faster on mostly English mail.
std::string prepare(std::string_view text, bool casefold) {
  std::string repaired;
  if (!is_ascii(text) && !is_valid_utf8(text)) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  int flags = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE;
  if (casefold)
    flags |= UTF8PROC_CASEFOLD;
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && static_cast<unsigned char>(text[j]) < 0x80)
      ++j;
    if (j == text.size()) {
      append_ascii(out, text.substr(i), casefold);
      break;
    }
    const std::size_t run_start = j > i ? j - 1 : j; // the base character of a combining mark
    append_ascii(out, text.substr(i, run_start - i), casefold);
    std::size_t k = j;
    while (k < text.size() && static_cast<unsigned char>(text[k]) >= 0x80)
      ++k;
    out += map_utf8(text.substr(run_start, k - run_start), flags);
    i = k;
  }
  return out;
}

// The next code point of `s` at `i`, advancing `i`; ASCII, most of the text, skips the decoder.
inline char32_t next_code_point_fast(const std::string& s, std::size_t& i) {
  const char32_t cp = static_cast<unsigned char>(s[i]);
  if (cp < 0x80) {
    ++i;
    return cp;
  }
  return next_code_point(s, i);
}

template <class Classify>
char_class class_of(char32_t cp, const std::array<char_class, 128>& ascii, Classify&& slow) {
  return cp < 128 ? ascii[cp] : slow(cp);
}

} // namespace

std::string normalise(std::string_view text, const normalise_options& options) {
  const std::string mapped = prepare(text, false);
  const auto& ascii = tables().text;
  std::string out;
  out.reserve(mapped.size());
  std::size_t spaces = 0;
  std::size_t breaks = 0;
  std::size_t i = 0;
  while (i < mapped.size()) {
    const std::size_t start = i;
    const char32_t cp = next_code_point_fast(mapped, i);
    const auto c = class_of(cp, ascii, classify);
    if (c == char_class::drop)
      continue;
    if (c == char_class::space) {
      ++spaces;
      continue;
    }
    if (c == char_class::line_break) {
      ++breaks;
      continue;
    }
    if ((spaces > 0 || breaks > 0) && !out.empty()) {
      if (breaks == 0 || options.collapse_newlines)
        out.push_back(' ');
      else
        out.append(breaks > 1 ? "\n\n" : "\n");
    }
    spaces = breaks = 0;
    if (i - start == 1)
      out.push_back(mapped[start]);
    else
      out.append(mapped, start, i - start);
  }
  return out;
}

std::string dedupe_key(std::string_view text, bool keep_word_breaks) {
  const std::string mapped = prepare(text, true);
  const auto& ascii = tables().key;
  std::string out;
  out.reserve(mapped.size());
  bool pending_break = false;
  std::size_t i = 0;
  while (i < mapped.size()) {
    const std::size_t start = i;
    const char32_t cp = next_code_point_fast(mapped, i);
    const auto c = class_of(cp, ascii, key_class);
    if (c == char_class::space) {
      pending_break = keep_word_breaks;
      continue;
    }
    if (c != char_class::keep)
      continue;
    if (pending_break && !out.empty())
      out.push_back(' ');
    pending_break = false;
    if (i - start == 1)
      out.push_back(mapped[start]);
    else
      out.append(mapped, start, i - start);
  }
  return out;
}

rule_stats normalise(std::vector<record>& records, const normalise_options& options) {
  return rewrite_texts(records, "normalise",
                       [&](std::string_view text) { return normalise(text, options); });
}

} // namespace llmos::dataset
