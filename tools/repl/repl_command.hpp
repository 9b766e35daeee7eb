// The REPL's language as plain functions: a command line becomes a msgpack-RPC call (method +
// JSON params), and a JSON result becomes the text a person reads. No sockets here, so the
// whole language is unit-tested.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace llmos::repl {

/// One call to make. `local` commands (help, quit) are handled by the REPL itself.
struct command {
  std::string name;   ///< what the user typed first ("nodes", "send", ...)
  std::string method; ///< RPC method
  nlohmann::json params = nlohmann::json::array();
  bool local = false;
};

/// Splits a line into words; "double" and 'single' quotes group, backslash escapes.
caf::expected<std::vector<std::string>> split_words(const std::string& line);

/// Reads "key=value" into JSON: integers, floats, true/false, comma lists of numbers become
/// arrays, anything else stays a string.
caf::expected<std::pair<std::string, nlohmann::json>> parse_assignment(const std::string& word);

/// Turns a line into a command; bad_option error with the usage of that command.
caf::expected<command> parse_command(const std::string& line);

/// Words the REPL completes at the start of a line.
const std::vector<std::string>& command_names();

/// The help text.
std::string help_text();

/// Formats a result for people: tables for nodes and actors, indented JSON otherwise (a
/// "report" field holding JSON text is shown as JSON).
std::string format_result(const std::string& command, const nlohmann::json& result);

/// One progress notification {task, stage, done, total, message}: a bar redrawn in place
/// ("\r...") for terminals, a plain line otherwise.
std::string format_progress(const nlohmann::json& event, bool terminal);

} // namespace llmos::repl
