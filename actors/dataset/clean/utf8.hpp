// Small UTF-8 helpers shared by the cleaning rules: decoding one code point without trusting
// the input, encoding, repairing invalid bytes, Latin-1 decoding and code point counting. They
// live apart so that every rule treats broken input the same way (never crash, never drop bytes
// silently: an invalid byte becomes the character it most likely was in a legacy charset).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmos::dataset {

/// Returned by next_code_point for a byte that does not start a valid sequence.
inline constexpr char32_t invalid_code_point = 0xFFFFFFFF;

/// Decodes the code point at `s[i]` and advances `i` past it; on an invalid or truncated
/// sequence returns invalid_code_point and advances by one byte.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return invalid_code_point;
  }
  if (i + len > s.size()) {
    ++i;
    return invalid_code_point;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return invalid_code_point;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values above U+10FFFF are refused like any other bad byte.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return invalid_code_point;
  }
  i += len;
  return cp;
}

/// Appends the UTF-8 encoding of `cp` (U+FFFD for a value that is not a scalar value).
void append_utf8(std::string& out, char32_t cp);

/// The character a byte 0x80..0xFF stands for in Windows-1252, the superset of Latin-1 that
/// mail software actually wrote (0x80..0x9F are printable there, C1 controls in Latin-1).
char32_t cp1252_to_unicode(unsigned char byte);

/// Whether `s` is valid UTF-8.
bool is_valid_utf8(std::string_view s);

/// Whether every byte of `s` is below 0x80.
bool is_ascii(std::string_view s);

/// `s` with every byte that is not part of a valid UTF-8 sequence read as Windows-1252.
std::string repair_utf8(std::string_view s);

/// `s` read as Latin-1 (Windows-1252 for 0x80..0x9F), encoded as UTF-8.
std::string latin1_to_utf8(std::string_view s);

/// Number of code points in `s` (an invalid byte counts as one).
std::size_t count_code_points(std::string_view s);

} // namespace llmos::dataset
