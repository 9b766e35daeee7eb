// Removal of ANSI terminal escape sequences from text. Some sources were written for a terminal
// (fortunes-zh colours its titles with ESC[32m ... ESC[m); the colour codes carry no meaning for
// a model and would otherwise reach the tokenizer as noise.
#pragma once

#include <string>
#include <string_view>

namespace llmos::dataset {

/// `text` without ANSI escape sequences: CSI (ESC [ params final, e.g. ESC[35;1m) and two-byte
/// ESC sequences; a lone ESC is dropped too. Other bytes are kept exactly.
std::string strip_ansi(std::string_view text);

} // namespace llmos::dataset
