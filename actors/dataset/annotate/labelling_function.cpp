#include "dataset/annotate/labelling_function.hpp"

#include <algorithm>
#include <cmath>

#include "dataset/annotate/text_match.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

// libstdc++'s std::regex matcher recurses once per character consumed by a repetition, so a
// long line (a base64 blob, minified HTML) could exhaust the stack. Lines are therefore searched
// in overlapping windows: a match up to `regex_overlap` bytes long is still found across a
// window edge, and ^ / $ keep meaning the line's start and end.
constexpr std::size_t regex_window = 8192;
constexpr std::size_t regex_overlap = 1024;

caf::error bad(const std::string& context) {
  return make_llmos_error(error_code::bad_config, context);
}

bool search_line(const std::regex& re, std::string_view line) {
  std::size_t start = 0;
  for (;;) {
    const auto stop = std::min(line.size(), start + regex_window);
    auto flags = std::regex_constants::match_default;
    if (start > 0)
      flags |= std::regex_constants::match_prev_avail;
    if (stop < line.size())
      flags |= std::regex_constants::match_not_eol;
    if (std::regex_search(line.begin() + start, line.begin() + stop, re, flags))
      return true;
    if (stop == line.size())
      return false;
    start = stop - regex_overlap;
  }
}

} // namespace

caf::expected<labelling_function> labelling_function::compile(labelling_function_spec spec) {
  const auto who = "labelling function '" + spec.name + "'";
  if (spec.name.empty())
    return bad("labelling function with label '" + spec.label + "': name is empty");
  if (spec.label.empty())
    return bad(who + ": label is empty");
  if (!std::isfinite(spec.weight) || spec.weight <= 0)
    return bad(who + ": weight must be a positive number, got " + std::to_string(spec.weight));
  if (spec.patterns.empty())
    return bad(who + ": patterns is empty");
  labelling_function lf;
  if (spec.kind == "keywords") {
    for (const auto& p : spec.patterns) {
      if (p.empty())
        return bad(who + ": empty keyword");
      lf.keywords_.push_back(spec.case_sensitive ? p : casefold_utf8(p));
    }
  } else if (spec.kind == "regex") {
    auto flags = std::regex::ECMAScript;
    if (!spec.case_sensitive)
      flags |= std::regex::icase;
    for (const auto& p : spec.patterns) {
      try {
        lf.regexes_.emplace_back(p, flags);
      } catch (const std::regex_error& e) {
        return bad(who + ": invalid regex '" + p + "': " + e.what());
      }
    }
  } else {
    return bad(who + ": unknown kind '" + spec.kind + "' (expected keywords or regex)");
  }
  lf.spec_ = std::move(spec);
  return lf;
}

bool labelling_function::fires(std::string_view text, std::string_view folded) const {
  return regexes_.empty() ? keywords_fire(text, folded) : regex_fires(text);
}

bool labelling_function::fires(std::string_view text) const {
  if (regexes_.empty() && !spec_.case_sensitive)
    return keywords_fire(text, casefold_utf8(text));
  return fires(text, text);
}

bool labelling_function::keywords_fire(std::string_view text, std::string_view folded) const {
  const auto haystack = spec_.case_sensitive ? text : folded;
  return std::any_of(keywords_.begin(), keywords_.end(),
                     [&](const std::string& k) { return contains_whole_word(haystack, k); });
}

bool labelling_function::regex_fires(std::string_view text) const {
  // A pattern the matcher gives up on (error_complexity, error_stack) abstains: one odd record
  // must not stop the pipeline.
  try {
    std::size_t start = 0;
    while (start <= text.size()) {
      auto nl = text.find('\n', start);
      if (nl == std::string_view::npos)
        nl = text.size();
      auto line = text.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      for (const auto& re : regexes_)
        if (search_line(re, line))
          return true;
      start = nl + 1;
    }
  } catch (const std::regex_error&) {
    return false;
  }
  return false;
}

} // namespace llmos::dataset
