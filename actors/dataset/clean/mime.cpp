#include "dataset/clean/mime.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "dataset/clean/utf8.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::dataset {
namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using text::trim;

// The line starting at `pos` without its line break (LF or CRLF); `next` is where the
// following line starts.
std::string_view line_at(std::string_view s, std::size_t pos, std::size_t& next) {
  auto eol = s.find('\n', pos);
  if (eol == std::string_view::npos) {
    next = s.size();
    eol = s.size();
  } else {
    next = eol + 1;
  }
  auto line = s.substr(pos, eol - pos);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

// "Name: value" with a name of printable ASCII other than ':' (RFC 5322 field-name).
bool is_header_line(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos)
    return false;
  for (std::size_t i = 0; i < colon; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c <= 32 || c >= 127)
      return false;
  }
  return true;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-') // '-' and '_': the URL-safe alphabet some senders use
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

// The Q encoding of RFC 2047: quoted-printable where '_' stands for a space.
std::string decode_q(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out.push_back(' ');
    } else if (text[i] == '=' && i + 2 < text.size() && text::hex_digit(text[i + 1]) >= 0 &&
               text::hex_digit(text[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(text::hex_digit(text[i + 1]) * 16 + text::hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Decodes one encoded word starting at `pos` ("=?cs?E?text?="); on success sets `end` past it.
bool decode_word(std::string_view s, std::size_t pos, std::size_t& end, std::string& out) {
  const auto q1 = s.find('?', pos + 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?')
    return false;
  const auto close = s.find("?=", q1 + 3);
  if (close == std::string_view::npos)
    return false;
  auto charset = s.substr(pos + 2, q1 - pos - 2);
  charset = charset.substr(0, charset.find('*')); // RFC 2231 language suffix
  const char enc = static_cast<char>(std::toupper(static_cast<unsigned char>(s[q1 + 1])));
  const auto text = s.substr(q1 + 3, close - q1 - 3);
  if (enc == 'B')
    out += charset_to_utf8(decode_base64(text), charset);
  else if (enc == 'Q')
    out += charset_to_utf8(decode_q(text), charset);
  else
    return false;
  end = close + 2;
  return true;
}

} // namespace

std::string mime_entity::header(std::string_view name) const {
  for (const auto& h : headers)
    if (h.name == name)
      return h.value;
  return {};
}

mime_entity parse_entity(std::string_view raw) {
  mime_entity e;
  std::size_t pos = 0;
  std::size_t next = 0;
  if (raw.starts_with("From ")) {
    line_at(raw, pos, next);
    pos = next;
  }
  auto first = line_at(raw, pos, next);
  if (!first.empty() && !is_header_line(first)) {
    e.body = raw.substr(pos);
    return e;
  }
  while (pos < raw.size()) {
    const auto line = line_at(raw, pos, next);
    if (line.empty()) {
      pos = next;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !e.headers.empty()) {
      auto& v = e.headers.back().value;
      const auto more = trim(line);
      if (!more.empty()) {
        if (!v.empty())
          v.push_back(' ');
        v.append(more);
      }
    } else if (is_header_line(line)) {
      const auto colon = line.find(':');
      e.headers.push_back(
          mime_header{lower(line.substr(0, colon)), std::string{trim(line.substr(colon + 1))}});
    } else {
      break; // no empty line before the body: it starts at the first line that is no header
    }
    pos = next;
  }
  e.body = raw.substr(std::min(pos, raw.size()));
  return e;
}

header_params parse_header_params(std::string_view value) {
  header_params out;
  std::size_t i = 0;
  auto take_until_semicolon = [&] {
    const auto start = i;
    while (i < value.size() && value[i] != ';')
      ++i;
    return value.substr(start, i - start);
  };
  out.value = lower(trim(take_until_semicolon()));
  while (i < value.size()) {
    ++i; // the ';'
    while (i < value.size() && std::isspace(static_cast<unsigned char>(value[i])))
      ++i;
    const auto name_start = i;
    while (i < value.size() && value[i] != '=' && value[i] != ';')
      ++i;
    const auto name = lower(trim(value.substr(name_start, i - name_start)));
    if (i >= value.size() || value[i] != '=')
      continue;
    ++i;
    while (i < value.size() && std::isspace(static_cast<unsigned char>(value[i])))
      ++i;
    std::string v;
    if (i < value.size() && value[i] == '"') {
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size())
          ++i;
        v.push_back(value[i]);
      }
      take_until_semicolon(); // skip the closing quote and anything after it
    } else {
      v = std::string{trim(take_until_semicolon())};
    }
    if (!name.empty())
      out.params.emplace(name, std::move(v));
  }
  return out;
}

std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary) {
  std::vector<std::string_view> parts;
  if (boundary.empty())
    return parts;
  const std::string delimiter = "--" + std::string{boundary};
  std::size_t pos = 0;
  std::size_t next = 0;
  std::size_t part_start = std::string_view::npos;
  auto close_part = [&](std::size_t line_start) {
    if (part_start == std::string_view::npos)
      return;
    auto part = body.substr(part_start, line_start - std::min(part_start, line_start));
    // The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
    if (part.ends_with('\n'))
      part.remove_suffix(1);
    if (part.ends_with('\r'))
      part.remove_suffix(1);
    parts.push_back(part);
  };
  while (pos < body.size()) {
    const auto line = line_at(body, pos, next);
    if (line.starts_with(delimiter)) {
      const auto rest = line.substr(delimiter.size());
      if (rest.starts_with("--")) {
        close_part(pos);
        return parts;
      }
      if (trim(rest).empty()) {
        close_part(pos);
        part_start = next;
      }
    }
    pos = next;
  }
  close_part(body.size());
  return parts;
}

std::string decode_quoted_printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 2 < text.size() && text::hex_digit(text[i + 1]) >= 0 &&
        text::hex_digit(text[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(text::hex_digit(text[i + 1]) * 16 + text::hex_digit(text[i + 2])));
      i += 2;
      continue;
    }
    // A soft line break: '=' then optional trailing blanks then the line break (or the end).
    std::size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t'))
      ++j;
    if (j < text.size() && text[j] == '\r')
      ++j;
    if (j >= text.size()) {
      i = j;
    } else if (text[j] == '\n') {
      i = j;
    } else {
      out.push_back('='); // not an escape: keep it rather than lose text
    }
  }
  return out;
}

std::string decode_base64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0)
      continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string decode_transfer_encoding(std::string_view body, std::string_view encoding) {
  const auto enc = lower(trim(encoding));
  if (enc == "quoted-printable")
    return decode_quoted_printable(body);
  if (enc == "base64")
    return decode_base64(body);
  return std::string{body};
}

std::string charset_to_utf8(std::string_view bytes, std::string_view charset) {
  auto cs = lower(trim(charset));
  if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii")
    return is_valid_utf8(bytes) ? std::string{bytes} : repair_utf8(bytes);
  return is_ascii(bytes) ? std::string{bytes} : latin1_to_utf8(bytes);
}

std::string decode_header_words(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  std::size_t plain_start = 0;
  bool last_was_word = false;
  while (i < value.size()) {
    const auto at = value.find("=?", i);
    if (at == std::string_view::npos)
      break;
    std::string word;
    std::size_t end = 0;
    if (!decode_word(value, at, end, word)) {
      i = at + 2;
      continue;
    }
    const auto between = value.substr(plain_start, at - plain_start);
    // Blanks between two adjacent encoded words are not part of the text (RFC 2047 6.2).
    if (!(last_was_word && trim(between).empty()))
      out += charset_to_utf8(between, "");
    out += word;
    i = plain_start = end;
    last_was_word = true;
  }
  out += charset_to_utf8(value.substr(std::min(plain_start, value.size())), "");
  return out;
}

} // namespace llmos::dataset
