#include "dataset/readers/ansi.hpp"

namespace llmos::dataset {

std::string strip_ansi(std::string_view text) {
  constexpr char esc = '\x1B';
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != esc) {
      out += text[i++];
      continue;
    }
    ++i;
    if (i < text.size() && text[i] == '[') {
      // CSI: parameter and intermediate bytes (0x20-0x3F), then one final byte (0x40-0x7E).
      ++i;
      while (i < text.size() && text[i] >= 0x20 && text[i] <= 0x3F)
        ++i;
      if (i < text.size() && text[i] >= 0x40 && text[i] <= 0x7E)
        ++i;
    } else if (i < text.size() && text[i] >= 0x40 && text[i] <= 0x5F) {
      ++i; // a two-byte escape such as ESC M
    }
  }
  return out;
}

} // namespace llmos::dataset
