// Reading YAML files that people write (topology, pipeline specs) with refusals that name the
// line and the fix: maps with known keys only (and a did-you-mean), typed scalar fields, names.
// Parsers throw `refusal` from these helpers and turn it into a caf::error at their one public
// entry point, so a refusal deep in a nested list needs no error plumbing through every helper.
// Include only from .cpp files that link yaml-cpp.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <yaml-cpp/yaml.h>

namespace llmos::yaml_fields {

/// A refused input: 1-based line and what is wrong with how to fix it.
struct refusal {
  int line;
  std::string what;
};

/// Throws refusal{line, what}.
[[noreturn]] void refuse(int line, std::string what);

/// 1-based line of a node (1 for nodes yaml-cpp made up).
int line_of(const YAML::Node& node);

/// One key of a YAML map with where it was written.
struct entry {
  std::string key;
  int line = 0;
  YAML::Node value;
};

using entries = std::map<std::string, entry>;

/// The keys of map `node`, refusing keys outside `known` (with a suggestion) and keys given
/// twice (yaml-cpp keeps both, and silently using one would hide the user's mistake).
entries read_map(const YAML::Node& node, const std::vector<std::string>& known,
                 const std::string& where);

/// The entry for `key`, or nullptr.
const entry* get(const entries& map, const std::string& key);

/// "a map", "a list" or "empty", for messages.
std::string kind_of(const YAML::Node& node);

/// The text of a single-value key; refuses lists, maps and missing values.
std::string read_string(const entry& e);

/// An unsigned integer in [lo, hi]; `hint` tells what the number means.
uint64_t read_unsigned(const entry& e, uint64_t lo, uint64_t hi, const std::string& hint);

/// One of `choices`; a refusal suggests the closest and lists them all.
std::string read_choice(const entry& e, const std::vector<std::string>& choices);

/// true/yes or false/no.
bool read_bool(const entry& e);

/// True for [A-Za-z0-9_.-]+ other than dots alone.
bool is_valid_name(const std::string& name);

/// A name used on the command line and in the directory: [A-Za-z0-9_.-]+.
std::string read_name(const entry& e);

/// `text` without leading and trailing white space.
std::string trim(const std::string& text);

/// What `read` threw while reading `file`, as bad_config: "FILE:LINE: what" for a refusal,
/// "FILE:LINE: YAML syntax error: ..." for a parser error, "FILE: what" for anything else.
caf::error parse_failure(const std::string& file, std::exception_ptr thrown);

/// The one public entry point of a YAML reader: `read(YAML::Load(text))` with whatever it or
/// the YAML parser throws turned into parse_failure's error.
template <class Read>
auto parse_guarded(const std::string& text, const std::string& file, Read read)
    -> caf::expected<decltype(read(YAML::Node{}))> {
  try {
    return read(YAML::Load(text));
  } catch (...) {
    return parse_failure(file, std::current_exception());
  }
}

/// How many YAML documents `text` holds, counted up to `max + 2`, and the 1-based line where the
/// second one's content starts (0 when there is none). yaml-cpp 0.7's LoadAll never returns, and
/// grows without bound, on a document that begins with a ',' ("," alone, "&a ,", "a: b\n---\n,":
/// found by fuzzing the topology reader): this count stops at the bound and throws
/// YAML::ParserException where a document makes no progress. Parse errors throw as LoadAll's.
struct document_count {
  std::size_t documents = 0;
  int second_line = 0;
};
document_count count_documents(const std::string& text, std::size_t max);

/// The whole of file `path`; bad_config "PATH: cannot read the WHAT file; check the path" when
/// it cannot be opened.
caf::expected<std::string> read_text_file(const std::string& path, const std::string& what);

/// `parse(text, path)` of the whole of file `path`, or read_text_file's refusal: how every
/// reader's load_X(path) is its parse_X(text, file) of what the file holds.
template <class Parse>
auto load_file(const std::string& path, const std::string& what, Parse parse)
    -> decltype(parse(std::string{}, path)) {
  auto text = read_text_file(path, what);
  if (!text)
    return std::move(text.error());
  return parse(*text, path);
}

} // namespace llmos::yaml_fields
