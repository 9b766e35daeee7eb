#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {
namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/// Length of the valid UTF-8 sequence starting at text[pos], or 0 when it is not one.
/// Follows the well-formed byte table of the Unicode standard (table 3-7), so overlongs,
/// surrogates and values above U+10FFFF are refused by the second-byte ranges.
std::size_t sequence_length(std::string_view text, std::size_t pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  const std::size_t left = text.size() - pos;
  const unsigned char b0 = byte(0);
  if (b0 < 0x80)
    return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0)
      lo = 0xA0; // below is overlong
    else if (b0 == 0xED)
      hi = 0x9F; // above are UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0)
      lo = 0x90; // below is overlong
    else if (b0 == 0xF4)
      hi = 0x8F; // above is beyond U+10FFFF
  } else {
    return 0;
  }
  if (left < len || byte(1) < lo || byte(1) > hi)
    return 0;
  for (std::size_t i = 2; i < len; ++i)
    if (!is_continuation(byte(i)))
      return 0;
  return len;
}

} // namespace

std::size_t first_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto len = sequence_length(text, pos);
    if (len == 0)
      return pos;
    pos += len;
  }
  return text.size();
}

bool valid_utf8(std::string_view text) {
  return first_invalid_utf8(text) == text.size();
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto len = sequence_length(text, pos);
    if (len == 0) {
      // One replacement per bad byte: a Latin-1 e-mail keeps its length in characters.
      out.append(replacement_character);
      ++pos;
    } else {
      out.append(text.substr(pos, len));
      pos += len;
    }
  }
  return out;
}

} // namespace llmos::dataset
