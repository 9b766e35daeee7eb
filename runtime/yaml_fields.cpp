#include "llmos/runtime/yaml_fields.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "llmos/messages/error.hpp"

#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::yaml_fields {

[[noreturn]] void refuse(int line, std::string what) {
  throw refusal{line, std::move(what)};
}

int line_of(const YAML::Node& node) {
  // yaml-cpp counts from 0 and has no mark (-1) for nodes it made up.
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 1;
}

/// The keys of map `node`, refusing keys outside `known` (with a suggestion) and keys given
/// twice (yaml-cpp keeps both, and silently using one would hide the user's mistake).
entries read_map(const YAML::Node& node, const std::vector<std::string>& known,
                 const std::string& where) {
  entries result;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int line = line_of(it->first);
    if (!it->first.IsScalar())
      refuse(line, "a key in " + where + " is not a plain word; write keys as 'name: value'");
    const std::string key = it->first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      auto match = closest_match(key, known);
      refuse(line, "unknown key '" + key + "'; " +
                       (match.empty() ? "remove it" : "did you mean '" + match + "'?") +
                       " (known keys in " + where + ": " + join_words(known) + ")");
    }
    if (auto prev = result.find(key); prev != result.end())
      refuse(line, "key '" + key + "' appears twice in " + where + " (also at line " +
                       std::to_string(prev->second.line) + "); keep one of them");
    result.emplace(key, entry{key, line, it->second});
  }
  return result;
}

const entry* get(const entries& map, const std::string& key) {
  auto i = map.find(key);
  return i == map.end() ? nullptr : &i->second;
}

std::string kind_of(const YAML::Node& node) {
  if (node.IsMap())
    return "a map";
  if (node.IsSequence())
    return "a list";
  return "empty";
}

/// The text of a single-value key; refuses lists, maps and missing values.
std::string read_string(const entry& e) {
  if (!e.value.IsScalar())
    refuse(e.line, "'" + e.key + "' must be a single value, but it is " + kind_of(e.value) +
                       "; write '" + e.key + ": value'");
  return e.value.Scalar();
}

/// An unsigned integer in [lo, hi]; `hint` tells what the number means.
uint64_t read_unsigned(const entry& e, uint64_t lo, uint64_t hi, const std::string& hint) {
  const std::string text = read_string(e);
  const std::string range = "between " + std::to_string(lo) + " and " + std::to_string(hi);
  const bool negative = text.size() > 1 && text[0] == '-';
  const std::string digits = negative ? text.substr(1) : text;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; }))
    refuse(e.line,
           "'" + e.key + "' must be a whole number " + range + ", got '" + text + "'; " + hint);
  // Twenty digits and more are out of range anyway and would overflow the sum below.
  const bool fits = !negative && digits.size() < 20;
  uint64_t value = 0;
  for (std::size_t i = 0; fits && i < digits.size(); ++i)
    value = value * 10 + static_cast<uint64_t>(digits[i] - '0');
  if (!fits || value < lo || value > hi)
    refuse(e.line,
           "'" + e.key + "' is " + text + ", out of range; it must be " + range + "; " + hint);
  return value;
}

bool is_valid_name(const std::string& name) {
  // Names also become file and folder names (state folders, registry models): "." and ".."
  // (dots alone) would name the folder itself or its parent.
  return !name.empty() && name.find_first_not_of('.') != std::string::npos &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-';
         });
}

std::string read_choice(const entry& e, const std::vector<std::string>& choices) {
  auto v = read_string(e);
  if (std::find(choices.begin(), choices.end(), v) != choices.end())
    return v;
  refuse(e.line, "'" + e.key + "' is '" + v + "'; " + did_you_mean(v, choices) +
                     "(one of: " + join_words(choices) + ")");
}

bool read_bool(const entry& e) {
  const auto text = read_string(e);
  if (text == "true" || text == "yes")
    return true;
  if (text == "false" || text == "no")
    return false;
  refuse(e.line, "'" + e.key + "' must be true or false, got '" + text + "'");
}

/// A name used on the command line and in the directory: [A-Za-z0-9_.-]+.
std::string read_name(const entry& e) {
  auto name = read_string(e);
  if (!is_valid_name(name))
    refuse(e.line, "'" + e.key + "' is '" + name +
                       "', which is not a valid name; use only letters, digits, '_', '.' and "
                       "'-', not dots alone (names appear on the command line, in the directory "
                       "and as folder names)");
  return name;
}

std::string trim(const std::string& s) {
  return std::string{text::trim(s)};
}

caf::error parse_failure(const std::string& file, std::exception_ptr thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const refusal& r) {
    return make_llmos_error(error_code::bad_config,
                            file + ":" + std::to_string(r.line) + ": " + r.what);
  } catch (const YAML::ParserException& e) {
    return make_llmos_error(error_code::bad_config, file + ":" + std::to_string(e.mark.line + 1) +
                                                        ": YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    return make_llmos_error(error_code::bad_config, file + ": " + e.what());
  } catch (...) {
    return make_llmos_error(error_code::bad_config, file + ": unreadable");
  }
}

caf::expected<std::string> read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_llmos_error(error_code::bad_config,
                            path + ": cannot read the " + what + " file; check the path");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

/// Records where each document's content starts (its first node; the document's own start
/// when it has none); the rest of the events are of no interest here.
class document_marks : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    first_node_ = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

private:
  void node(const YAML::Mark& mark) {
    if (first_node_)
      starts.back() = mark;
    first_node_ = false;
  }

  bool first_node_ = false;
};

} // namespace

document_count count_documents(const std::string& text, std::size_t max) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  document_marks marks;
  // A stuck parse repeats one document at one place; the first stuck document may follow a
  // '---' or an anchor that did move on, so two more than `max` are read to see the repeat.
  while (marks.starts.size() < max + 2 && parser.HandleNextDocument(marks)) {
    const auto n = marks.starts.size();
    if (n >= 2 && marks.starts[n - 1].pos == marks.starts[n - 2].pos)
      throw YAML::ParserException(marks.starts[n - 1],
                                  "a ',' outside any [ ] or { } list (quote the value if the "
                                  "comma belongs to it)");
  }
  return {marks.starts.size(), marks.starts.size() >= 2 ? marks.starts[1].line + 1 : 0};
}

} // namespace llmos::yaml_fields
