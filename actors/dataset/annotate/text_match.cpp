#include "dataset/annotate/text_match.hpp"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

namespace llmos::dataset {
namespace {

// Decodes the code point starting at `pos`; an invalid sequence reads as its first byte, so a
// malformed record can never make the search loop stall or read past the end.
char32_t decode_at(std::string_view s, std::size_t pos) {
  utf8proc_int32_t cp = 0;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                            static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
  if (n <= 0)
    return static_cast<unsigned char>(s[pos]);
  return static_cast<char32_t>(cp);
}

// The code point that ends just before `pos`.
char32_t decode_before(std::string_view s, std::size_t pos) {
  std::size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
    --start;
  return decode_at(s, start);
}

// The last code point of `s` (non-empty).
char32_t last_code_point(std::string_view s) {
  return decode_before(s, s.size());
}

bool is_word_char(char32_t cp) {
  if (cp == U'_')
    return true;
  if (cp > 0x10FFFF)
    return false;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_MN:
  case UTF8PROC_CATEGORY_MC:
  case UTF8PROC_CATEGORY_ME:
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
    return true;
  default:
    return false;
  }
}

// Two adjacent code points belong to one word only when both are word characters of a
// space-separated script; next to a CJK character every position is a possible boundary.
bool glued(char32_t a, char32_t b) {
  return is_word_char(a) && is_word_char(b) && !is_cjk(a) && !is_cjk(b);
}

} // namespace

std::string casefold_utf8(std::string_view text) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
      static_cast<utf8proc_ssize_t>(text.size()), &out,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned{out, &std::free};
  if (n < 0) {
    std::string lowered{text};
    for (auto& c : lowered)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    return lowered;
  }
  return std::string{reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)};
}

bool is_cjk(char32_t cp) {
  return (cp >= 0x2E80 && cp <= 0x2FDF)       // CJK and Kangxi radicals
         || (cp >= 0x3000 && cp <= 0x303F)    // CJK symbols and punctuation
         || (cp >= 0x3040 && cp <= 0x30FF)    // hiragana, katakana
         || (cp >= 0x3100 && cp <= 0x31FF)    // bopomofo, Hangul compatibility jamo, ...
         || (cp >= 0x3400 && cp <= 0x4DBF)    // extension A
         || (cp >= 0x4E00 && cp <= 0x9FFF)    // unified ideographs
         || (cp >= 0xAC00 && cp <= 0xD7AF)    // Hangul syllables
         || (cp >= 0xF900 && cp <= 0xFAFF)    // compatibility ideographs
         || (cp >= 0xFF00 && cp <= 0xFFEF)    // full-width and half-width forms
         || (cp >= 0x20000 && cp <= 0x3134F); // extensions B to G
}

bool contains_whole_word(std::string_view haystack, std::string_view needle) {
  if (needle.empty() || needle.size() > haystack.size())
    return false;
  const char32_t first = decode_at(needle, 0);
  const char32_t last = last_code_point(needle);
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + 1)) {
    const auto end = pos + needle.size();
    if (pos > 0 && glued(decode_before(haystack, pos), first))
      continue;
    if (end < haystack.size() && glued(last, decode_at(haystack, end)))
      continue;
    return true;
  }
  return false;
}

} // namespace llmos::dataset
