// The process supervisor behind llmos-launch: it starts a set of child processes, funnels their
// stdout and stderr through one poll loop so that every line comes out whole and prefixed with
// the child's name, reports children that die on their own (that is how a lost node shows up
// during development) and, when asked to stop, terminates them in order: SIGTERM, a grace
// period, then SIGKILL. It knows nothing about topologies or llmos so that tests can drive it
// with plain shell commands.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace llmos {

/// One process to supervise: the name used as its line prefix and the argv it runs.
struct launch_child {
  std::string name;
  std::vector<std::string> argv; ///< argv[0] is the program; searched in PATH if it has no '/'
};

/// Supervises child processes; single-threaded except for request_stop().
class launcher {
public:
  /// How long request_stop() waits after SIGTERM before it sends SIGKILL: longer than a node's
  /// own grace period (llmos-node --grace, 10 s by default), so that a draining node is never
  /// killed while it still finishes requests and stops its actors in order.
  static constexpr std::chrono::milliseconds default_grace{15000};

  /// Children's stdout lines go to `out`; their stderr lines and the launcher's own
  /// "[launch] ..." reports go to `err`. Both streams must outlive the launcher.
  launcher(std::vector<launch_child> children, std::ostream& out, std::ostream& err,
           std::chrono::milliseconds grace = default_grace);

  /// Kills (SIGKILL) and reaps whatever is still running, so no child outlives the launcher.
  ~launcher();

  launcher(const launcher&) = delete;
  launcher& operator=(const launcher&) = delete;

  /// Forks and execs every child, each in its own process group; returns what went wrong, or
  /// nothing when all started. On failure the children already started are stopped again.
  std::optional<std::string> start();

  /// Relays output until every child has exited; returns 0 when a stop was requested and all
  /// children then exited cleanly (status 0 or the SIGTERM we sent), 1 otherwise.
  int run_until_stopped();

  /// Asks run_until_stopped() to stop the children; a second request skips the grace period.
  /// Async-signal-safe and callable from any thread: it only writes a byte to a pipe.
  void request_stop() noexcept;

  /// Makes SIGINT and SIGTERM call request_stop() on this launcher (one per process).
  void stop_on_signals();

private:
  struct child_state;

  std::optional<std::string> start_one(child_state& child);
  void relay_until_all_exited();
  void handle_stop_requests();
  void terminate_all();
  void kill_stragglers(const std::string& reason);
  void reap_exited();
  void read_output(child_state& child, int stream, bool drain);
  void flush_partial(child_state& child, int stream);
  void write_line(const child_state& child, int stream, const std::string& text);
  void report(const std::string& text);
  void shut_down();

  std::vector<child_state> children_;
  std::ostream& out_;
  std::ostream& err_;
  std::chrono::milliseconds grace_;
  int wake_read_ = -1;  ///< self-pipe: signal handlers and other threads write here
  int wake_write_ = -1; ///< written by request_stop()
  int stop_requests_ = 0;
  bool clean_ = true;       ///< no child has failed or died on its own so far
  bool killed_all_ = false; ///< SIGKILL has gone out to every straggler
  std::chrono::steady_clock::time_point kill_deadline_;
  bool handles_signals_ = false;
};

} // namespace llmos
