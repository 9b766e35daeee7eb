// Text matching for keyword labelling functions: Unicode case folding and whole-word search
// that also works for Chinese and Japanese, which have no spaces between words. A keyword must
// not be glued to a letter or digit of a space-separated script on either side ("cash" does not
// fire on "cashews"), while an edge that is a CJK character matches as a plain substring
// ("免费" fires inside "获取免费礼品"), and a CJK neighbour counts as a word boundary for a Latin
// keyword ("iphone" fires on "买iPhone手机"). Kept apart from the labelling functions so that the
// rules can be tested on their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmos::dataset {

/// Unicode case folding with NFC composition (utf8proc); invalid UTF-8 is ASCII-lowercased.
std::string casefold_utf8(std::string_view text);

/// True for Han, kana, Hangul, CJK punctuation and full-width forms (scripts without spaces).
bool is_cjk(char32_t cp);

/// True when `needle` occurs in `haystack` as a whole word under the rules above.
bool contains_whole_word(std::string_view haystack, std::string_view needle);

} // namespace llmos::dataset
