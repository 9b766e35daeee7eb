// Child processes for the multi-process tests: fork/exec with stdout and stderr going to files,
// signals, and waits with a deadline; plus a temporary folder and free TCP ports. A child is
// killed when its owner goes away (and by the kernel when the test process dies), so a failed
// assertion never leaves a node running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llmos::test {

/// A fresh folder under the system's temporary directory, removed with everything in it.
class temp_dir {
public:
  explicit temp_dir(const std::string& tag);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

/// One child process. Destroying a running child sends it SIGKILL and reaps it.
class child_process {
public:
  child_process() = default;
  ~child_process();
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Starts argv[0] (a path) with stdin from /dev/null, stdout to `out` and stderr to `err`
  /// (both to `out` when `err` is empty; files are truncated). Throws std::runtime_error when
  /// the program cannot be started.
  static child_process start(const std::vector<std::string>& argv, const std::filesystem::path& out,
                             const std::filesystem::path& err = {});

  pid_t pid() const { return pid_; }

  /// True until the process has exited (reaps it when it has).
  bool running();

  /// Sends `sig`; false when the process is gone.
  bool signal(int sig);

  /// Waits up to `timeout` for the process to exit: its exit code, or 128 + the signal that
  /// ended it; nothing when it still runs.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);

  /// Sends `sig` and waits for the exit (SIGKILL after 5 s if `sig` was not enough).
  int stop(int sig = SIGKILL);

private:
  explicit child_process(pid_t pid) : pid_(pid) {}
  void reap(int status);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

/// What a finished program printed and how it ended.
struct program_result {
  int exit_code = -1; ///< 128 + signal when killed, -1 when it ran past the timeout
  std::string out;
  std::string err;
};

/// Runs a program to its end (killing it after `timeout`), capturing stdout and stderr.
program_result run_program(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// `count` distinct TCP ports that nothing listened on a moment ago (asked of the kernel by
/// binding port 0; all held open together, so they differ).
std::vector<uint16_t> free_ports(std::size_t count);

/// A TCP connection to 127.0.0.1:`port` (blocking socket), or -1.
int connect_loopback(uint16_t port);

/// Everything `fd` receives until the peer closes (`closed` true) or `timeout` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds timeout, bool& closed);

/// Sends `request` on the open connection `fd` and returns what comes back until a whole
/// response (head and Content-Length body) has come, the peer closes or `timeout` passes; the
/// connection stays open (for keep-alive exchanges).
std::string exchange_on(int fd, const std::string& request, std::chrono::milliseconds timeout);

/// Sends `request` as it is (no framing added) to 127.0.0.1:`port` and returns what comes back
/// until a whole response (head and Content-Length body) has come, the server closes the
/// connection or `timeout` passes; for requests no HTTP client library will write (a POST
/// without a length, say).
std::string raw_exchange(uint16_t port, const std::string& request,
                         std::chrono::milliseconds timeout);

/// Calls `done` every `interval` until it returns true or `timeout` has passed; its last answer.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));

/// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::filesystem::path& file);

/// Writes `text` to `file`, replacing it.
void write_file(const std::filesystem::path& file, const std::string& text);

} // namespace llmos::test
