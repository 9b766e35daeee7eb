#include "dataset/clean/html_text.hpp"

#include <array>
#include <cctype>
#include <cstdint>

#include "dataset/clean/utf8.hpp"

namespace llmos::dataset {
namespace {

// HTML 4 names of U+00A0..U+00FF, in code point order.
constexpr std::array<std::string_view, 96> latin1_names = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

struct named_entity {
  std::string_view name;
  char32_t cp;
};

constexpr named_entity other_names[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},     {"hellip", 0x2026}, {"mdash", 0x2014},  {"ndash", 0x2013},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"sbquo", 0x201A},  {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"bdquo", 0x201E},  {"bull", 0x2022},   {"trade", 0x2122},
    {"euro", 0x20AC},   {"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203A}, {"oelig", 0x0153},  {"OElig", 0x0152},
    {"scaron", 0x0161}, {"Scaron", 0x0160}, {"Yuml", 0x0178},   {"fnof", 0x0192},
    {"circ", 0x02C6},   {"tilde", 0x02DC},  {"ensp", 0x2002},   {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200C},   {"zwj", 0x200D},    {"lrm", 0x200E},
    {"rlm", 0x200F},    {"larr", 0x2190},   {"rarr", 0x2192},   {"uarr", 0x2191},
    {"darr", 0x2193},   {"hearts", 0x2665}, {"infin", 0x221E},  {"ne", 0x2260},
    {"le", 0x2264},     {"ge", 0x2265},     {"minus", 0x2212},  {"prime", 0x2032}};

constexpr char32_t no_entity = 0xFFFFFFFF;

char32_t lookup_name(std::string_view name) {
  for (std::size_t i = 0; i < latin1_names.size(); ++i)
    if (latin1_names[i] == name)
      return static_cast<char32_t>(0xA0 + i);
  for (const auto& e : other_names)
    if (e.name == name)
      return e.cp;
  // Mail software also wrote &NBSP; and &AMP;: accept the common five in any case.
  std::string low{name};
  for (auto& c : low)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view n : {"amp", "lt", "gt", "quot", "nbsp"})
    if (low == n)
      return lookup_name(n);
  return no_entity;
}

// The reference starting at s[i] == '&': its code point and where it ends, or no_entity.
char32_t parse_entity_at(std::string_view s, std::size_t i, std::size_t& end) {
  std::size_t j = i + 1;
  char32_t cp = no_entity;
  if (j < s.size() && s[j] == '#') {
    ++j;
    const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex)
      ++j;
    const std::size_t digits_start = j;
    uint32_t v = 0;
    while (j < s.size() && j - digits_start < 8 &&
           (hex ? std::isxdigit(static_cast<unsigned char>(s[j]))
                : std::isdigit(static_cast<unsigned char>(s[j])))) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
      v = v * (hex ? 16 : 10) + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++j;
    }
    if (j == digits_start)
      return no_entity;
    // &#150; and friends meant Windows-1252 in practice (HTML5 decodes them the same way).
    cp = v >= 0x80 && v < 0xA0 ? cp1252_to_unicode(static_cast<unsigned char>(v)) : v;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      cp = 0xFFFD;
  } else {
    while (j < s.size() && j - i <= 10 && std::isalnum(static_cast<unsigned char>(s[j])))
      ++j;
    if (j == i + 1)
      return no_entity;
    cp = lookup_name(s.substr(i + 1, j - i - 1));
    if (cp == no_entity)
      return no_entity;
  }
  if (j < s.size() && s[j] == ';')
    ++j;
  end = j;
  return cp;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_block_tag(std::string_view name) {
  static constexpr std::string_view blocks[] = {
      "p",  "div", "tr", "li", "h1", "h2",         "h3",  "h4", "h5",     "h6",  "table",
      "hr", "ul",  "ol", "dl", "dt", "blockquote", "pre", "dd", "center", "form"};
  for (auto b : blocks)
    if (b == name)
      return true;
  return false;
}

// Builds the visible text: blanks become one pending space, block tags end the line.
class text_builder {
public:
  void blank() { pending_space_ = true; }

  void append(std::string_view text) {
    if (pending_space_ && !out_.empty() && out_.back() != '\n')
      out_.push_back(' ');
    pending_space_ = false;
    out_.append(text);
  }

  // A block element starts on a new line; a run of blocks does not add empty lines.
  void end_block() {
    trim_spaces();
    if (!out_.empty() && out_.back() != '\n')
      out_.push_back('\n');
  }

  // <br>: one line break each, but never more than one empty line in a row.
  void hard_break() {
    trim_spaces();
    if (!out_.empty() && !out_.ends_with("\n\n"))
      out_.push_back('\n');
  }

  std::string finish() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n'))
      out_.pop_back();
    return std::move(out_);
  }

private:
  void trim_spaces() {
    while (!out_.empty() && out_.back() == ' ')
      out_.pop_back();
    pending_space_ = false;
  }

  std::string out_;
  bool pending_space_ = false;
};

// Case-insensitive search for `needle` (lower case) in `s` from `from`.
std::size_t find_ci(std::string_view s, std::string_view needle, std::size_t from) {
  for (std::size_t i = from; i + needle.size() <= s.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && std::tolower(static_cast<unsigned char>(s[i + k])) ==
                                    static_cast<unsigned char>(needle[k]))
      ++k;
    if (k == needle.size())
      return i;
  }
  return std::string_view::npos;
}

// Walks an HTML text once: entities decoded, text runs with their blanks collapsed, tags
// turned into line ends or spaces, comments and script, style and title elements dropped.
class html_walker {
public:
  explicit html_walker(std::string_view html) : html_(html) {}

  std::string run() {
    while (i_ < html_.size()) {
      const char c = html_[i_];
      if (c == '&')
        entity();
      else if (c != '<')
        text_run();
      else if (html_.substr(i_).starts_with("<!--"))
        comment();
      else
        tag();
    }
    return out_.finish();
  }

private:
  void entity() {
    std::size_t end = 0;
    const char32_t cp = parse_entity_at(html_, i_, end);
    if (cp == no_entity) {
      out_.append("&");
      ++i_;
      return;
    }
    i_ = end;
    if (cp == 0xA0) {
      out_.blank(); // &nbsp; is spacing, collapsed like any other blank in text
      return;
    }
    std::string enc;
    if (cp != 0xAD) // a soft hyphen is invisible
      append_utf8(enc, cp);
    out_.append(enc);
  }

  void text_run() {
    const std::size_t start = i_;
    while (i_ < html_.size() && html_[i_] != '<' && html_[i_] != '&' && !is_blank(html_[i_]))
      ++i_;
    if (i_ > start) {
      out_.append(html_.substr(start, i_ - start));
    } else {
      out_.blank();
      ++i_;
    }
  }

  /// A comment (or a declaration, processing instruction) is skipped whole.
  void comment() {
    auto end = html_.find("-->", i_ + 4);
    i_ = end == std::string_view::npos ? html_.size() : end + 3;
  }

  void tag() {
    const std::size_t name_at = i_ + 1 + (i_ + 1 < html_.size() && html_[i_ + 1] == '/' ? 1 : 0);
    const bool is_tag =
        name_at < html_.size() && (std::isalpha(static_cast<unsigned char>(html_[name_at])) ||
                                   html_[name_at] == '!' || html_[name_at] == '?');
    // The next '>' is remembered: text full of bare '<' would otherwise rescan to the end for
    // each of them.
    if (next_gt_ != std::string_view::npos && next_gt_ <= i_)
      next_gt_ = html_.find('>', i_ + 1);
    const auto close = next_gt_;
    if (!is_tag || close == std::string_view::npos) {
      out_.append("<"); // a bare '<' in text, e.g. "a < b"
      ++i_;
      return;
    }
    std::string name;
    for (std::size_t k = name_at; k < close && std::isalnum(static_cast<unsigned char>(html_[k]));
         ++k)
      name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(html_[k]))));
    const bool closing = name_at == i_ + 2;
    i_ = close + 1;
    if (!closing && (name == "script" || name == "style" || name == "title"))
      skip_element(name);
    else if (name == "br")
      out_.hard_break();
    else if (is_block_tag(name))
      out_.end_block();
    else if (name == "td" || name == "th")
      out_.blank();
  }

  /// Script, style and title content is code or a window title, never body text. An element
  /// left open is dropped alone; after one search fails, the same name is not searched for
  /// again.
  void skip_element(const std::string& name) {
    auto& unclosed = name == "script"  ? no_script_end_
                     : name == "style" ? no_style_end_
                                       : no_title_end_;
    const auto end = unclosed ? std::string_view::npos : find_ci(html_, "</" + name, i_);
    unclosed = end == std::string_view::npos;
    if (end != std::string_view::npos) {
      const auto gt = html_.find('>', end);
      i_ = gt == std::string_view::npos ? html_.size() : gt + 1;
    }
  }

  std::string_view html_;
  std::size_t i_ = 0;
  std::size_t next_gt_ = 0;
  bool no_script_end_ = false;
  bool no_style_end_ = false;
  bool no_title_end_ = false;
  text_builder out_;
};

} // namespace

std::string decode_html_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = 0;
    char32_t cp = text[i] == '&' ? parse_entity_at(text, i, end) : no_entity;
    if (cp == no_entity) {
      out.push_back(text[i++]);
      continue;
    }
    append_utf8(out, cp);
    i = end;
  }
  return out;
}

std::string html_to_text(std::string_view html) {
  return html_walker{html}.run();
}

} // namespace llmos::dataset
