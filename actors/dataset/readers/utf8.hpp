// UTF-8 validity checks shared by the readers. Text sources (CSV, JSON Lines, fortunes) refuse
// invalid UTF-8 to the quarantine, because a bad byte there usually means a wrong encoding that
// the user should fix at the source; e-mails are often Latin-1 or mixed, so the maildir reader
// repairs them with to_valid_utf8 instead and marks the record.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmos::dataset {

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid_utf8(std::string_view text);

/// Byte offset of the first invalid byte in `text`, or text.size() when it is all valid.
std::size_t first_invalid_utf8(std::string_view text);

/// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

} // namespace llmos::dataset
