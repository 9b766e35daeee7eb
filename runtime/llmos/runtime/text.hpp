// Small text helpers shared by every component (they were copied into five files, each with its
// own set of blanks).
#pragma once

#include <string_view>

namespace llmos::text {

/// The C locale's white space (what std::isspace accepts there).
inline constexpr std::string_view blanks = " \t\n\v\f\r";

/// `s` without the leading and trailing characters of `chars`; a view into `s`.
constexpr std::string_view trim(std::string_view s, std::string_view chars = blanks) {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

/// The value of hexadecimal digit `c` (either case), -1 for any other character.
constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

} // namespace llmos::text
