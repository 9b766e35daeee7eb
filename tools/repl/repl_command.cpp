#include "repl_command.hpp"

#include <charconv>
#include <iomanip>
#include <sstream>

#include "llmos/messages/error.hpp"

namespace llmos::repl {
namespace {

struct usage_entry {
  const char* name;
  const char* usage;
  const char* help;
};

const std::vector<usage_entry>& usages() {
  static const std::vector<usage_entry> xs = {
      {"help", "help", "this text"},
      {"nodes", "nodes", "every node of the cluster and its state (self, connecting, up, lost)"},
      {"actors", "actors [NODE]", "every named actor, or those of one node"},
      {"ping", "ping", "the node's name, pid and uptime"},
      {"spawn", "spawn NODE KIND [name=NAME] [key=value...]", "start an actor on a node"},
      {"stop", "stop ACTOR", "stop a named actor (it is not restarted)"},
      {"kill", "kill ACTOR", "end an actor as a crash would (its node restarts it by policy)"},
      {"send", "send ACTOR METHOD [key=value...]", "call a method of an actor"},
      {"methods", "methods", "every method the gateway maps, per actor kind"},
      {"auth", "auth TOKEN", "present the cluster's auth token (needed to change state)"},
      {"quit", "quit", "leave (also exit, Ctrl-D)"},
  };
  return xs;
}

caf::error usage_error(const std::string& name, const std::string& why) {
  for (const auto& u : usages())
    if (name == u.name)
      return make_llmos_error(error_code::bad_option, why + "; usage: " + u.usage);
  return make_llmos_error(error_code::bad_option, why);
}

bool parse_number(const std::string& s, nlohmann::json& out) {
  if (s.empty())
    return false;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc{} && p == s.data() + s.size()) {
    out = i;
    return true;
  }
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size()) {
    out = d;
    return true;
  }
  return false;
}

} // namespace

caf::expected<std::vector<std::string>> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size() && quote != '\'') {
      cur += line[++i];
      in_word = true;
    } else if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word)
        words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0)
    return make_llmos_error(error_code::bad_option,
                            std::string{"unterminated "} + quote + " quote");
  if (in_word)
    words.push_back(std::move(cur));
  return words;
}

caf::expected<std::pair<std::string, nlohmann::json>> parse_assignment(const std::string& word) {
  auto eq = word.find('=');
  if (eq == std::string::npos || eq == 0)
    return make_llmos_error(error_code::bad_option, "'" + word + "' is not key=value");
  std::string key = word.substr(0, eq);
  std::string text = word.substr(eq + 1);
  nlohmann::json value;
  if (text == "true" || text == "false") {
    value = text == "true";
  } else if (parse_number(text, value)) {
    // a number
  } else if (text.find(',') != std::string::npos) {
    // A comma list is an array of numbers only when every item is one.
    nlohmann::json arr = nlohmann::json::array();
    std::stringstream ss{text};
    std::string item;
    bool all_numbers = true;
    while (std::getline(ss, item, ',')) {
      nlohmann::json n;
      if (!parse_number(item, n)) {
        all_numbers = false;
        break;
      }
      arr.push_back(n);
    }
    value = all_numbers ? arr : nlohmann::json(text);
  } else {
    value = text;
  }
  return std::make_pair(std::move(key), std::move(value));
}

caf::expected<command> parse_command(const std::string& line) {
  auto words = split_words(line);
  if (!words)
    return std::move(words.error());
  command cmd;
  if (words->empty()) {
    cmd.local = true;
    return cmd;
  }
  auto& w = *words;
  cmd.name = w[0];
  cmd.method = w[0];
  auto options_from = [&](std::size_t first) -> caf::expected<nlohmann::json> {
    nlohmann::json opts = nlohmann::json::object();
    for (std::size_t i = first; i < w.size(); ++i) {
      auto kv = parse_assignment(w[i]);
      if (!kv)
        return usage_error(cmd.name, describe(kv.error()));
      opts[kv->first] = kv->second;
    }
    return opts;
  };
  const auto& name = cmd.name;
  if (name == "help" || name == "quit" || name == "exit") {
    cmd.local = true;
  } else if (name == "nodes" || name == "ping" || name == "methods") {
    if (w.size() != 1)
      return usage_error(name, name + " takes no arguments");
  } else if (name == "actors") {
    if (w.size() > 2)
      return usage_error(name, "too many arguments");
    if (w.size() == 2)
      cmd.params.push_back(w[1]);
  } else if (name == "stop" || name == "kill" || name == "auth") {
    if (w.size() != 2)
      return usage_error(name, name + " takes exactly one argument");
    cmd.params.push_back(w[1]);
  } else if (name == "spawn" || name == "send") {
    if (w.size() < 3)
      return usage_error(name, "missing arguments");
    auto opts = options_from(3);
    if (!opts)
      return std::move(opts.error());
    cmd.params = nlohmann::json::array({w[1], w[2], *opts});
  } else {
    return make_llmos_error(error_code::bad_option,
                            "unknown command '" + name + "'; type help for the commands");
  }
  return cmd;
}

const std::vector<std::string>& command_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> xs;
    for (const auto& u : usages())
      xs.emplace_back(u.name);
    return xs;
  }();
  return names;
}

std::string help_text() {
  std::ostringstream os;
  os << "commands:\n";
  for (const auto& u : usages())
    os << "  " << std::left << std::setw(44) << u.usage << u.help << "\n";
  os << "values in key=value: numbers, true/false, comma lists of numbers (1,2,3), text\n";
  return os.str();
}

namespace {

std::string cell(const nlohmann::json& v) {
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v)
      out += (out.empty() ? "" : ",") + cell(x);
    return out;
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, x] : v.items())
      out += (out.empty() ? "" : " ") + k + "=" + cell(x);
    return out;
  }
  return v.dump();
}

std::string table(const nlohmann::json& rows, const std::vector<std::string>& columns) {
  std::vector<std::size_t> width(columns.size());
  std::vector<std::vector<std::string>> cells;
  for (std::size_t c = 0; c < columns.size(); ++c)
    width[c] = columns[c].size();
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      line.push_back(row.contains(columns[c]) ? cell(row[columns[c]]) : "");
      width[c] = std::max(width[c], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  std::ostringstream os;
  auto emit = [&](const std::vector<std::string>& line) {
    for (std::size_t c = 0; c < line.size(); ++c) {
      os << line[c];
      if (c + 1 < line.size())
        os << std::string(width[c] - line[c].size() + 2, ' ');
    }
    os << "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : columns) {
    std::string h = c;
    for (auto& ch : h)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    header.push_back(h);
  }
  emit(header);
  for (const auto& line : cells)
    emit(line);
  return os.str();
}

} // namespace

std::string format_result(const std::string& command, const nlohmann::json& result) {
  if (command == "nodes" && result.is_array())
    return table(result, {"name", "state", "host", "port", "rpc_port", "devices", "since_ms"});
  if (command == "actors" && result.is_array())
    return table(result, {"name", "kind", "node", "config"});
  if (command == "methods" && result.is_array())
    return table(result, {"kind", "name", "usage", "help"});
  return result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string format_progress(const nlohmann::json& event, bool terminal) {
  const auto stage = event.value("stage", std::string{"?"});
  const auto done = event.value("done", uint64_t{0});
  const auto total = event.value("total", uint64_t{0});
  const auto message = event.value("message", std::string{});
  std::ostringstream os;
  if (terminal)
    os << "\r\033[K";
  os << std::left << std::setw(9) << stage << " ";
  if (total > 0) {
    constexpr int width = 24;
    const auto filled = static_cast<int>(static_cast<double>(std::min(done, total)) * width /
                                         static_cast<double>(total));
    os << "[" << std::string(static_cast<std::size_t>(filled), '#')
       << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << done << "/"
       << total;
  }
  if (!message.empty())
    os << " " << message;
  return os.str();
}

} // namespace llmos::repl
