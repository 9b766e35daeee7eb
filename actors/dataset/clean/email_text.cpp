#include "dataset/clean/email_text.hpp"

#include <algorithm>
#include <cctype>

#include "dataset/clean/html_text.hpp"
#include "dataset/clean/mime.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::dataset {
namespace {

// Deeper nesting than this is not mail a person wrote; stop instead of recursing without end.
constexpr int max_depth = 16;

struct text_part {
  bool html = false;
  std::string text;
};

using text::trim;

bool has_text(const std::vector<text_part>& parts, bool html) {
  for (const auto& p : parts)
    if (p.html == html && !trim(p.text).empty())
      return true;
  return false;
}

// Undeclared bodies that are plainly HTML (common in spam) are stripped like text/html.
bool looks_like_html(std::string_view body) {
  const auto head = body.substr(0, 2048);
  for (std::string_view tag : {"<html", "<body", "<HTML", "<BODY", "<Html", "<Body"})
    if (head.find(tag) != std::string_view::npos)
      return true;
  return false;
}

void collect(const mime_entity& e, int depth, std::vector<text_part>& out) {
  const auto declared = e.header("content-type");
  auto ct = parse_header_params(declared);
  if (ct.value.find('/') == std::string::npos)
    ct.value = "text/plain";
  if (parse_header_params(e.header("content-disposition")).value == "attachment")
    return;
  if (ct.value.starts_with("multipart/")) {
    const auto boundary = ct.params.find("boundary");
    const auto parts = boundary == ct.params.end() ? std::vector<std::string_view>{}
                                                   : split_multipart(e.body, boundary->second);
    if (parts.empty()) { // malformed: keep the body as text rather than lose it
      out.push_back(text_part{false, charset_to_utf8(e.body, "")});
      return;
    }
    if (depth >= max_depth)
      return;
    if (ct.value == "multipart/alternative") {
      // One rendering of the same content: the plain one if it has text, else the first other.
      std::vector<text_part> best;
      for (auto part : parts) {
        std::vector<text_part> got;
        collect(parse_entity(part), depth + 1, got);
        if (has_text(got, false)) {
          best = std::move(got);
          break;
        }
        if (best.empty())
          best = std::move(got);
      }
      out.insert(out.end(), best.begin(), best.end());
      return;
    }
    for (auto part : parts)
      collect(parse_entity(part), depth + 1, out);
    return;
  }
  const auto bytes = decode_transfer_encoding(e.body, e.header("content-transfer-encoding"));
  if (ct.value == "message/rfc822") {
    if (depth < max_depth)
      collect(parse_entity(bytes), depth + 1, out);
    return;
  }
  if (!ct.value.starts_with("text/"))
    return;
  auto text = charset_to_utf8(bytes, ct.params["charset"]);
  if (ct.value == "text/html" || (declared.empty() && looks_like_html(text)))
    out.push_back(text_part{true, html_to_text(text)});
  else
    out.push_back(text_part{false, std::move(text)});
}

// LF line ends, no trailing blanks, at most one empty line in a row, no leading/trailing ones.
std::string tidy_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t blank_run = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto eol = text.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos)
      eol = text.size();
    auto line = text.substr(pos, eol - pos);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
      line.remove_suffix(1);
    if (line.empty()) {
      ++blank_run;
    } else {
      if (!out.empty())
        out.append(blank_run > 0 ? "\n\n" : "\n");
      out.append(line);
      blank_run = 0;
    }
    if (eol + 1 < text.size() && text[eol] == '\r' && text[eol + 1] == '\n')
      ++eol;
    pos = eol + 1;
  }
  return out;
}

bool is_quoted(std::string_view line) {
  const auto t = trim(line);
  return !t.empty() && t.front() == '>';
}

// Outlook's "-----Original Message-----" (and "----- Original Message -----"): everything
// after it is the quoted message, top-posted under the reply.
bool is_original_message_marker(std::string_view line) {
  auto t = trim(line);
  while (!t.empty() && t.front() == '-')
    t.remove_prefix(1);
  while (!t.empty() && t.back() == '-')
    t.remove_suffix(1);
  t = trim(t);
  return t.size() == 16 &&
         (t == "Original Message" || t == "original message" || t == "Original message" ||
          t == "ORIGINAL MESSAGE") &&
         trim(line).starts_with("---");
}

bool is_attribution_end(std::string_view line) {
  const auto t = trim(line);
  return t.ends_with("wrote:") || t.ends_with("writes:");
}

} // namespace

std::string drop_quoted_replies(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos <= text.size();) {
    auto eol = text.find('\n', pos);
    if (eol == std::string_view::npos)
      eol = text.size();
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  std::vector<bool> keep(lines.size(), true);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_original_message_marker(lines[i])) {
      std::fill(keep.begin() + static_cast<std::ptrdiff_t>(i), keep.end(), false);
      break;
    }
    if (is_quoted(lines[i])) {
      keep[i] = false;
      continue;
    }
    if (!is_attribution_end(lines[i]))
      continue;
    std::size_t next = i + 1;
    while (next < lines.size() && trim(lines[next]).empty())
      ++next;
    const bool quote_follows = next < lines.size() && is_quoted(lines[next]);
    const bool starts_on = trim(lines[i]).starts_with("On ");
    const bool wrapped = i > 0 && keep[i - 1] && trim(lines[i - 1]).starts_with("On ");
    if (!(starts_on || quote_follows || wrapped))
      continue; // "... wrote:" in running text, not an attribution
    keep[i] = false;
    if (wrapped && !starts_on)
      keep[i - 1] = false; // "On Mon, 2 Sep 2002, Jo Bloggs\n  <jo@example.com> wrote:"
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!keep[i])
      continue;
    if (!out.empty() || i > 0)
      out.push_back('\n');
    out.append(lines[i]);
  }
  return out;
}

std::string email_to_text(std::string_view raw, const email_options& options) {
  const auto message = parse_entity(raw);
  std::vector<text_part> parts;
  collect(message, 0, parts);
  // Prefer the plain parts; HTML renderings only when a message has no plain text at all.
  const bool use_html = !has_text(parts, false);
  std::string body;
  for (const auto& p : parts) {
    if (p.html != use_html)
      continue;
    if (!body.empty())
      body.append("\n\n");
    body.append(p.text);
  }
  if (!options.keep_quoted_replies)
    body = drop_quoted_replies(body);
  body = tidy_lines(body);
  std::string subject;
  for (char c : decode_header_words(message.header("subject"))) {
    const bool blank = std::isspace(static_cast<unsigned char>(c));
    if (blank && (subject.empty() || subject.back() == ' '))
      continue;
    subject.push_back(blank ? ' ' : c);
  }
  while (!subject.empty() && subject.back() == ' ')
    subject.pop_back();
  if (subject.empty())
    return body;
  return body.empty() ? subject : subject + "\n\n" + body;
}

rule_stats email_to_text(std::vector<record>& records, const email_options& options) {
  return rewrite_texts(records, "email_to_text",
                       [&](std::string_view raw) { return email_to_text(raw, options); });
}

} // namespace llmos::dataset
