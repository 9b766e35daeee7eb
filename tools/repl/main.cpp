// llmos-repl HOST:PORT: talks msgpack-RPC to any node's gateway. Interactive on a terminal
// (libedit line editing, history in ~/.llmos_history, tab completion of commands, when built
// with libedit; a plain prompt otherwise); scripted
// from stdin or -c, with --json output and a non-zero exit when any command failed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#ifdef LLMOS_WITH_LIBEDIT
#include <editline/readline.h>
#endif

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "llmos/runtime/tls_channel.hpp"
#include "repl_command.hpp"

namespace po = boost::program_options;

namespace {

struct session {
  llmos::rpc::client client;
  std::chrono::milliseconds wait{30000}; ///< without an answer or progress
  bool json = false;
  int failures = 0;
};

// Runs one line; returns false when the user asked to quit.
bool run_line(session& s, const std::string& line) {
  auto cmd = llmos::repl::parse_command(line);
  if (!cmd) {
    std::cerr << "error: " << llmos::describe(cmd.error()) << "\n";
    ++s.failures;
    return true;
  }
  if (cmd->local) {
    if (cmd->name == "quit" || cmd->name == "exit")
      return false;
    if (cmd->name == "help")
      std::cout << llmos::repl::help_text();
    return true;
  }
  auto res = s.client.call(cmd->method, cmd->params, s.wait);
  if (!res) {
    std::cerr << "error: " << llmos::describe(res.error()) << "\n";
    ++s.failures;
    return s.client.connected();
  }
  if (!res->ok) {
    ++s.failures;
    if (s.json)
      std::cout << nlohmann::json{{"error", res->value}}.dump() << "\n";
    else
      std::cerr << "error: " << res->value.value("message", res->value.dump()) << "\n";
    return true;
  }
  if (s.json) {
    std::cout << res->value.dump() << "\n";
  } else {
    if (isatty(STDERR_FILENO) != 0)
      std::cerr << "\r\033[K"; // clear a progress bar left on the line
    std::cout << llmos::repl::format_result(cmd->name, res->value);
  }
  std::cout.flush();
  return true;
}

#ifdef LLMOS_WITH_LIBEDIT
char* complete_command(const char* text, int state) {
  static std::size_t index;
  if (state == 0)
    index = 0;
  const auto& names = llmos::repl::command_names();
  const std::size_t len = std::strlen(text);
  while (index < names.size()) {
    const auto& n = names[index++];
    if (n.compare(0, len, text) == 0)
      return strdup(n.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int) {
  // Only the first word is a command; later words are names the REPL cannot know offline.
  if (start != 0)
    return nullptr;
  return rl_completion_matches(text, complete_command);
}

void interactive(session& s, const std::string& prompt) {
  std::string history;
  if (const char* home = std::getenv("HOME"))
    history = std::string{home} + "/.llmos_history";
  using_history();
  if (!history.empty())
    read_history(history.c_str());
  rl_attempted_completion_function = complete;
  for (;;) {
    char* raw = readline(prompt.c_str());
    if (raw == nullptr)
      break;
    std::string line{raw};
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    add_history(line.c_str());
    if (!run_line(s, line))
      break;
  }
  if (!history.empty())
    write_history(history.c_str());
}

#else

// Built without libedit (-DLLMOS_WITH_LIBEDIT=OFF): a plain prompt, no history or completion.
void interactive(session& s, const std::string& prompt) {
  std::string line;
  for (;;) {
    std::cout << prompt << std::flush;
    if (!std::getline(std::cin, line))
      break;
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    if (!run_line(s, line))
      break;
  }
}

#endif

} // namespace

namespace {

/// The command line.
struct repl_args {
  std::string endpoint;
  std::vector<std::string> commands;
  std::string token;
  std::string ca;
  int64_t timeout_ms = 0;
  bool json = false;
};

/// Reads the command line; an exit code when the program ends here (help, bad options).
std::optional<int> parse_args(int argc, char** argv, repl_args& a) {
  po::options_description desc{"usage: llmos-repl HOST:PORT [options]"};
  desc.add_options()("help,h", "show this help")("command,c", po::value(&a.commands),
                                                 "run this command and exit (repeatable)")(
      "json", po::bool_switch(&a.json), "print results as one JSON line each")(
      "token", po::value(&a.token), "auth token (default: $LLMOS_TOKEN)")(
      "timeout", po::value(&a.timeout_ms),
      "ms a call may wait without an answer or progress, here and on the node (default: 30000 "
      "here, one hour on the node)")(
      "ca", po::value(&a.ca),
      "speak TLS, trusting this CA (PEM) for the node's rpc_tls certificate (default: $LLMOS_CA)")(
      "endpoint", po::value(&a.endpoint), "HOST:PORT of a node's msgpack-RPC gateway");
  po::positional_options_description pos;
  pos.add("endpoint", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
    if (vm.count("help") || a.endpoint.empty()) {
      std::cout << desc << "\n" << llmos::repl::help_text();
      return a.endpoint.empty() && !vm.count("help") ? 2 : 0;
    }
  } catch (const po::error& e) {
    std::cerr << "llmos-repl: " << e.what() << "\n";
    return 2;
  }
  if (a.timeout_ms < 0) {
    std::cerr << "llmos-repl: --timeout must be positive\n";
    return 2;
  }
  if (a.ca.empty())
    if (const char* env = std::getenv("LLMOS_CA"))
      a.ca = env;
  if (a.token.empty())
    if (const char* env = std::getenv("LLMOS_TOKEN"))
      a.token = env;
  return std::nullopt;
}

/// Connects the session (over TLS with a CA) and sets the node's call limit; 0 or an exit code.
int connect(session& s, const repl_args& a) {
  auto ep = llmos::rpc::parse_endpoint(a.endpoint);
  if (!ep) {
    std::cerr << "llmos-repl: " << llmos::describe(ep.error()) << "\n";
    return 2;
  }
  if (!a.ca.empty()) {
    auto ctx = llmos::tls::context::client(a.ca);
    if (!ctx) {
      std::cerr << "llmos-repl: --ca: " << llmos::describe(ctx.error()) << "\n";
      return 2;
    }
    s.client.use_tls(std::move(*ctx));
  }
  if (auto err = s.client.connect(ep->first, ep->second)) {
    std::cerr << "llmos-repl: " << llmos::describe(err) << "\n";
    return 1;
  }
  if (a.timeout_ms > 0) {
    s.wait = std::chrono::milliseconds{a.timeout_ms};
    if (auto err = s.client.limit_calls(s.wait)) {
      std::cerr << "llmos-repl: " << llmos::describe(err) << "\n";
      return 1;
    }
  }
  return 0;
}

/// Long calls (ingest, train) send progress notifications: a bar on a terminal, lines
/// otherwise; generation streams tokens as they are made (text, else ids).
void show_notifications(session& s) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  s.client.on_notification([tty](const std::string& method, const nlohmann::json& params) {
    if (!params.is_array() || params.empty())
      return;
    if (method == "token") {
      if (params.size() > 1 && params[1].is_string())
        std::cerr << params[1].get<std::string>();
      else
        std::cerr << params[0].dump() << " ";
      std::cerr.flush();
      return;
    }
    if (method != "progress")
      return;
    std::cerr << llmos::repl::format_progress(params[0], tty) << (tty ? "" : "\n");
    std::cerr.flush();
  });
}

/// Lines from standard input (not a terminal): blank lines and # comments skipped.
void run_script(session& s) {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#')
      continue;
    if (!s.json)
      std::cout << "> " << line << "\n";
    if (!run_line(s, line))
      break;
  }
}

} // namespace

int main(int argc, char** argv) {
  repl_args a;
  if (auto exit_code = parse_args(argc, argv, a))
    return *exit_code;
  session s;
  s.json = a.json;
  if (int code = connect(s, a); code != 0)
    return code;
  if (!s.json)
    show_notifications(s);
  if (!a.token.empty() && !run_line(s, "auth " + a.token))
    return 1;
  if (!a.commands.empty()) {
    for (const auto& c : a.commands)
      if (!run_line(s, c))
        break;
  } else if (isatty(STDIN_FILENO)) {
    interactive(s, a.endpoint + "> ");
  } else {
    run_script(s);
  }
  return s.failures == 0 ? 0 : 1;
}
