#include "dataset/augment/thesaurus.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <vector>

#include "dataset/data_dir.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

caf::error io(const std::string& context) {
  return make_llmos_error(error_code::io_failed, context);
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// "city (generic term)" → "city"; "unhappy (antonym)" → "" (dropped).
std::string_view clean_synonym(std::string_view s) {
  if (auto open = s.rfind(" ("); open != std::string_view::npos && s.back() == ')') {
    if (s.substr(open) == " (antonym)")
      return {};
    s = s.substr(0, open);
  }
  return s;
}

} // namespace

std::string ascii_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void thesaurus::add(const std::string& head, std::string synonym) {
  if (synonym.empty() || synonym.find(' ') != std::string::npos || ascii_lower(synonym) == head)
    return;
  auto& syns = entries_[head];
  // A head's list is short (tens): a linear check keeps loading simple and the map lean.
  if (std::find(syns.begin(), syns.end(), synonym) == syns.end())
    syns.push_back(std::move(synonym));
}

namespace {

/// The lines of a thesaurus file, counted, without '\r', in UTF-8 when asked (the file may be
/// ISO8859-1).
struct thesaurus_lines {
  std::ifstream& in;
  bool latin1 = false;
  uint64_t number = 1; ///< of the line read last (the encoding line is 1)

  bool next(std::string& line, bool decode = true) {
    if (!std::getline(in, line))
      return false;
    ++number;
    if (!decode)
      return true;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (latin1)
      line = latin1_to_utf8(line);
    return true;
  }
};

/// "word|count": the count, or nullopt when the line is not an entry's head.
std::optional<std::size_t> meaning_count(const std::string& line) {
  auto bar = line.rfind('|');
  if (bar == std::string::npos)
    return std::nullopt;
  std::size_t count = 0;
  auto [end, ec] = std::from_chars(line.data() + bar + 1, line.data() + line.size(), count);
  if (ec != std::errc{} || end != line.data() + line.size())
    return std::nullopt;
  return count;
}

/// The synonyms of one meaning: "(pos)|syn|syn (similar term)|...", the first field the part
/// of speech.
std::vector<std::string> synonyms_of(std::string_view rest) {
  std::vector<std::string> out;
  auto first = rest.find('|');
  if (first == std::string_view::npos)
    return out;
  rest.remove_prefix(first + 1);
  while (!rest.empty()) {
    auto next = rest.find('|');
    out.emplace_back(clean_synonym(rest.substr(0, next)));
    if (next == std::string_view::npos)
      break;
    rest.remove_prefix(next + 1);
  }
  return out;
}

} // namespace

caf::expected<thesaurus> thesaurus::load(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return io("cannot open thesaurus '" + path + "'; run tools/setup/setup.sh to install it");
  std::string line;
  if (!std::getline(in, line))
    return io(path + ":1: empty thesaurus file, expected the encoding on the first line");
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  thesaurus_lines lines{in};
  if (line == "ISO8859-1" || line == "ISO-8859-1")
    lines.latin1 = true;
  else if (line != "UTF-8")
    return io(path + ":1: unsupported encoding '" + line + "' (expected UTF-8 or ISO8859-1)");
  thesaurus th;
  while (lines.next(line)) {
    if (line.empty())
      continue;
    const auto head_line = lines.number;
    auto count = meaning_count(line);
    if (!count)
      return io(path + ":" + std::to_string(head_line) + ": expected 'word|count', got '" +
                line.substr(0, 80) + "'");
    const auto head = ascii_lower(std::string_view{line}.substr(0, line.rfind('|')));
    // Multi-word heads are not used: their meanings are read past.
    const bool keep = head.find(' ') == std::string::npos;
    for (std::size_t i = 0; i < *count; ++i) {
      if (!lines.next(line, keep))
        return io(path + ":" + std::to_string(head_line) + ": entry '" + head + "' announces " +
                  std::to_string(*count) + " meanings but the file ends after " +
                  std::to_string(i));
      if (keep)
        for (auto& syn : synonyms_of(line))
          th.add(head, std::move(syn));
    }
  }
  return th;
}

caf::expected<thesaurus> thesaurus::load_default() {
  auto path = data_path(thesaurus_relative_path);
  if (path.empty())
    return io("thesaurus not found at '" + data_dir() + "/" + thesaurus_relative_path +
              "'; run tools/setup/setup.sh (or set LLMOS_DATA_DIR)");
  return load(path);
}

thesaurus thesaurus::from_entries(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& entries) {
  thesaurus th;
  for (const auto& [word, syns] : entries)
    for (const auto& s : syns)
      th.add(ascii_lower(word), s);
  return th;
}

const std::vector<std::string>& thesaurus::synonyms(std::string_view word) const {
  static const std::vector<std::string> none;
  auto it = entries_.find(ascii_lower(word));
  return it == entries_.end() ? none : it->second;
}

std::size_t thesaurus::pair_count() const {
  std::size_t n = 0;
  for (const auto& [head, syns] : entries_)
    n += syns.size();
  return n;
}

} // namespace llmos::dataset
