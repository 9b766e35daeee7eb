#include "launcher.hpp"
#include "child_exec.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace llmos {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// How often the loop wakes without output to look for exited children. waitpid polling keeps
// the loop free of a SIGCHLD handler, which would make every launcher a process-wide singleton.
constexpr milliseconds tick{50};

// A child that never writes a newline must not grow our buffer without bound.
constexpr size_t max_line = 64 * 1024;

constexpr int stdout_stream = 0;
constexpr int stderr_stream = 1;

std::atomic<launcher*> signal_target{nullptr};

void on_stop_signal(int) {
  int saved = errno;
  if (auto* target = signal_target.load())
    target->request_stop();
  errno = saved;
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

// Signals the child's whole process group, so helpers a node (or a test's shell) started go
// down with it; falls back to the pid if the group is already gone.
void signal_group(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0 && errno == ESRCH)
    ::kill(pid, sig);
}

std::string describe_status(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  return "exited with status " + std::to_string(128 + sig) + " (killed by signal " +
         std::to_string(sig) + ", " + ::strsignal(sig) + ")";
}

} // namespace

struct launcher::child_state {
  std::string name;
  std::vector<std::string> argv;
  pid_t pid = -1;
  bool running = false;
  bool killed = false;    ///< we sent SIGKILL, so its exit is never clean
  int fds[2] = {-1, -1};  ///< read ends of its stdout and stderr pipes
  std::string partial[2]; ///< bytes after the last newline, per stream
};

launcher::launcher(std::vector<launch_child> children, std::ostream& out, std::ostream& err,
                   milliseconds grace)
    : out_(out), err_(err), grace_(grace) {
  children_.reserve(children.size());
  for (auto& c : children) {
    child_state state;
    state.name = std::move(c.name);
    state.argv = std::move(c.argv);
    children_.push_back(std::move(state));
  }
  int wake[2];
  // Non-blocking on both ends: a signal handler must never block on a full pipe, and the loop
  // drains it until EAGAIN.
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = wake[0];
    wake_write_ = wake[1];
  }
}

launcher::~launcher() {
  shut_down();
  if (handles_signals_) {
    launcher* self = this;
    signal_target.compare_exchange_strong(self, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
  }
  close_fd(wake_read_);
  close_fd(wake_write_);
}

std::optional<std::string> launcher::start() {
  if (wake_read_ < 0)
    return std::string{"cannot create the launcher's wake-up pipe: "} + std::strerror(errno);
  for (auto& child : children_) {
    if (child.argv.empty())
      return "node " + child.name + " has no command to run";
  }
  for (auto& child : children_) {
    if (auto failure = start_one(child)) {
      // Stop the ones already running, relaying whatever they print on the way down.
      ++stop_requests_;
      terminate_all();
      relay_until_all_exited();
      return failure;
    }
  }
  return std::nullopt;
}

std::optional<std::string> launcher::start_one(child_state& child) {
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return "cannot create a pipe for node " + child.name + ": " + std::strerror(errno);
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    auto failure = "cannot create a pipe for node " + child.name + ": " + std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return failure;
  }
  // Closed by a successful exec; otherwise the child writes errno into it, so a missing
  // llmos-node is reported here with its path instead of as a mysterious exit status 127.
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    auto failure = "cannot create a pipe for node " + child.name + ": " + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      ::close(fd);
    return failure;
  }
  // Everything the child touches between fork and exec is prepared here: only
  // async-signal-safe calls are allowed there.
  std::vector<char*> argv;
  for (auto& arg : child.argv)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid == 0)
    exec_child(argv.data(), parent, out_pipe[1], err_pipe[1], exec_pipe[1]);

  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  if (pid < 0) {
    auto failure = "cannot fork node " + child.name + ": " + std::strerror(errno);
    for (int fd : {out_pipe[0], err_pipe[0], exec_pipe[0]})
      ::close(fd);
    return failure;
  }
  // Also set from this side, so that a stop right after start() finds the group.
  ::setpgid(pid, pid);

  const int exec_error = exec_failure(exec_pipe[0]);
  if (exec_error != 0) {
    ::waitpid(pid, nullptr, 0);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return "cannot start node " + child.name + ": " + child.argv[0] + ": " +
           std::strerror(exec_error);
  }

  child.pid = pid;
  child.running = true;
  child.fds[stdout_stream] = out_pipe[0];
  child.fds[stderr_stream] = err_pipe[0];
  for (int fd : child.fds)
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  report("started node " + child.name + " (pid " + std::to_string(pid) + ")");
  return std::nullopt;
}

int launcher::run_until_stopped() {
  relay_until_all_exited();
  return stop_requests_ > 0 && clean_ ? 0 : 1;
}

void launcher::relay_until_all_exited() {
  auto any_running = [this] {
    return std::any_of(children_.begin(), children_.end(),
                       [](const child_state& c) { return c.running; });
  };
  std::vector<pollfd> fds;
  std::vector<std::pair<child_state*, int>> owners;
  while (any_running()) {
    fds.clear();
    owners.clear();
    fds.push_back({wake_read_, POLLIN, 0});
    owners.emplace_back(nullptr, 0);
    for (auto& child : children_) {
      for (int stream : {stdout_stream, stderr_stream}) {
        if (child.fds[stream] >= 0) {
          fds.push_back({child.fds[stream], POLLIN, 0});
          owners.emplace_back(&child, stream);
        }
      }
    }
    auto timeout = tick;
    if (stop_requests_ > 0 && !killed_all_) {
      auto left = std::chrono::duration_cast<milliseconds>(kill_deadline_ - steady_clock::now());
      timeout = std::clamp(left + milliseconds{1}, milliseconds{0}, tick);
    }
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (ready > 0) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
          continue;
        if (owners[i].first == nullptr)
          handle_stop_requests();
        else
          read_output(*owners[i].first, owners[i].second, false);
      }
    }
    reap_exited();
    if (stop_requests_ > 0 && !killed_all_ && steady_clock::now() >= kill_deadline_)
      kill_stragglers("did not stop within " + std::to_string(grace_.count()) + " ms");
  }
  // A helper that outlived its node may still hold a pipe open; take what is there and stop.
  for (auto& child : children_) {
    for (int stream : {stdout_stream, stderr_stream}) {
      if (child.fds[stream] >= 0) {
        read_output(child, stream, true);
        flush_partial(child, stream);
        close_fd(child.fds[stream]);
      }
    }
  }
}

void launcher::request_stop() noexcept {
  char byte = 1;
  // A full pipe already holds a pending request, so a failed write loses nothing.
  [[maybe_unused]] auto written = ::write(wake_write_, &byte, 1);
}

void launcher::stop_on_signals() {
  signal_target.store(this);
  handles_signals_ = true;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void launcher::handle_stop_requests() {
  char buf[64];
  ssize_t n;
  while ((n = ::read(wake_read_, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (++stop_requests_ == 1)
        terminate_all();
      else if (!killed_all_)
        kill_stragglers("stop requested again");
    }
  }
}

void launcher::terminate_all() {
  size_t count = 0;
  for (auto& child : children_) {
    if (child.running) {
      signal_group(child.pid, SIGTERM);
      ++count;
    }
  }
  kill_deadline_ = steady_clock::now() + grace_;
  if (count > 0)
    report("stopping " + std::to_string(count) + " node(s): sent SIGTERM, SIGKILL after " +
           std::to_string(grace_.count()) + " ms");
}

void launcher::kill_stragglers(const std::string& reason) {
  killed_all_ = true;
  for (auto& child : children_) {
    if (child.running && !child.killed) {
      report("node " + child.name + " " + reason + "; sending SIGKILL");
      signal_group(child.pid, SIGKILL);
      child.killed = true;
    }
  }
}

void launcher::reap_exited() {
  for (auto& child : children_) {
    if (!child.running)
      continue;
    int status = 0;
    pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
      continue;
    child.running = false;
    // Its last words come before the report of its exit.
    for (int stream : {stdout_stream, stderr_stream}) {
      if (child.fds[stream] >= 0)
        read_output(child, stream, true);
      flush_partial(child, stream);
    }
    if (r < 0) {
      report("node " + child.name + " cannot be waited for: " + std::strerror(errno));
      clean_ = false;
      continue;
    }
    report("node " + child.name + " " + describe_status(status));
    bool clean = stop_requests_ > 0 && !child.killed &&
                 ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                  (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
    if (!clean)
      clean_ = false;
  }
}

void launcher::read_output(child_state& child, int stream, bool drain) {
  char buf[16 * 1024];
  // Without `drain`, one read per wake-up, so a chatty child cannot starve the others. With
  // it, the writer is gone and the pipe holds at most its capacity; the bound guards against a
  // helper that keeps writing.
  for (int round = 0; round < (drain ? 64 : 1); ++round) {
    ssize_t n = ::read(child.fds[stream], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return; // EAGAIN: nothing more for now
    if (n == 0) {
      flush_partial(child, stream);
      close_fd(child.fds[stream]);
      return;
    }
    auto& pending = child.partial[stream];
    pending.append(buf, static_cast<size_t>(n));
    size_t begin = 0;
    for (size_t nl; (nl = pending.find('\n', begin)) != std::string::npos; begin = nl + 1)
      write_line(child, stream, pending.substr(begin, nl - begin));
    pending.erase(0, begin);
    if (pending.size() >= max_line)
      flush_partial(child, stream);
  }
}

void launcher::flush_partial(child_state& child, int stream) {
  if (!child.partial[stream].empty()) {
    write_line(child, stream, child.partial[stream]);
    child.partial[stream].clear();
  }
}

void launcher::write_line(const child_state& child, int stream, const std::string& text) {
  // One string, one flush: when both streams are the same terminal each line is a single write.
  std::string line = "[" + child.name + "] " + text + "\n";
  auto& os = stream == stdout_stream ? out_ : err_;
  os << line << std::flush;
}

void launcher::report(const std::string& text) {
  err_ << ("[launch] " + text + "\n") << std::flush;
}

void launcher::shut_down() {
  for (auto& child : children_) {
    if (child.running) {
      signal_group(child.pid, SIGKILL);
      ::waitpid(child.pid, nullptr, 0);
      child.running = false;
    }
    for (int& fd : child.fds)
      close_fd(fd);
  }
}

} // namespace llmos
