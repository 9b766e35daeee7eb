#include "process_helper.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace llmos::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

temp_dir::temp_dir(const std::string& tag) {
  auto pattern = (fs::temp_directory_path() / ("llmos_" + tag + "_XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

child_process::~child_process() {
  if (pid_ > 0 && !exit_code_)
    stop(SIGKILL);
}

child_process::child_process(child_process&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_code_)
      stop(SIGKILL);
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    other.pid_ = -1;
  }
  return *this;
}

child_process child_process::start(const std::vector<std::string>& argv, const fs::path& out,
                                   const fs::path& err) {
  if (argv.empty())
    throw std::runtime_error("child_process::start: no program");
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed.
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int out_fd = ::open(out.c_str(), flags, 0644);
  int err_fd = err.empty() ? -1 : ::open(err.c_str(), flags, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // exec failures travel back through a close-on-exec pipe: EOF means exec succeeded.
  int report[2] = {-1, -1};
  const auto close_all = [&] {
    for (int fd : {out_fd, err_fd, null_fd, report[0], report[1]})
      if (fd >= 0)
        ::close(fd);
  };
  if (out_fd < 0 || (!err.empty() && err_fd < 0) || null_fd < 0 ||
      ::pipe2(report, O_CLOEXEC) != 0) {
    const std::string why = std::strerror(errno);
    close_all();
    throw std::runtime_error("child_process::start: cannot open the output files of " + argv[0] +
                             " in " + out.parent_path().string() + ": " + why);
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // The kernel kills the child when the test process dies, whatever way it dies.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd >= 0 ? err_fd : out_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    int e = errno;
    [[maybe_unused]] auto n = ::write(report[1], &e, sizeof(e));
    ::_exit(127);
  }
  const int fork_errno = errno;
  const int report_fd = report[0];
  report[0] = -1;
  close_all();
  if (pid < 0) {
    ::close(report_fd);
    throw std::runtime_error(std::string{"fork: "} + std::strerror(fork_errno));
  }
  int exec_errno = 0;
  ssize_t n = 0;
  while ((n = ::read(report_fd, &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR) {
  }
  ::close(report_fd);
  child_process child{pid};
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    child.wait_for(5s);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }
  return child;
}

void child_process::reap(int status) {
  if (WIFEXITED(status))
    exit_code_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    exit_code_ = 128 + WTERMSIG(status);
  else
    exit_code_ = 255;
}

bool child_process::running() {
  if (pid_ <= 0 || exit_code_)
    return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_)
    reap(status);
  return !exit_code_;
}

bool child_process::signal(int sig) {
  return running() && ::kill(pid_, sig) == 0;
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return exit_code_;
}

int child_process::stop(int sig) {
  if (pid_ <= 0)
    return -1;
  signal(sig);
  if (auto code = wait_for(5s))
    return *code;
  signal(SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap(status);
  return *exit_code_;
}

program_result run_program(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout) {
  temp_dir dir{"run"};
  program_result result;
  auto child = child_process::start(argv, dir / "stdout", dir / "stderr");
  if (auto code = child.wait_for(timeout))
    result.exit_code = *code;
  else
    child.stop(SIGKILL);
  result.out = read_file(dir / "stdout");
  result.err = read_file(dir / "stderr");
  return result;
}

std::vector<uint16_t> free_ports(std::size_t count) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY); // the nodes listen on every address
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error(std::string{"free_ports: "} + std::strerror(errno));
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds)
    ::close(fd);
  return ports;
}

namespace {

/// An HTTP response's head and as many body bytes as its Content-Length says are in `text`.
bool response_complete(const std::string& text) {
  const auto head = text.find("\r\n\r\n");
  if (head == std::string::npos)
    return false;
  const auto at = text.find("Content-Length: ");
  if (at == std::string::npos || at > head)
    return false; // read until the server closes
  const auto length = std::strtoull(text.c_str() + at + 16, nullptr, 10);
  return text.size() >= head + 4 + length;
}

} // namespace

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

namespace {

/// Appends what `fd` receives to `out` until `enough(out)`, the peer closes (true) or `timeout`
/// passes (false).
bool read_into(int fd, std::chrono::milliseconds timeout, std::string& out,
               const std::function<bool(const std::string&)>& enough) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return true;
    out.append(buf, static_cast<std::size_t>(n));
    if (enough(out))
      return false;
  }
}

} // namespace

std::string read_until_closed(int fd, std::chrono::milliseconds timeout, bool& closed) {
  std::string out;
  closed = read_into(fd, timeout, out, [](const std::string&) { return false; });
  return out;
}

std::string exchange_on(int fd, const std::string& request, std::chrono::milliseconds timeout) {
  std::string out;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size()))
    read_into(fd, timeout, out, response_complete);
  return out;
}

std::string raw_exchange(uint16_t port, const std::string& request,
                         std::chrono::milliseconds timeout) {
  const int fd = connect_loopback(port);
  if (fd < 0)
    return {};
  auto out = exchange_on(fd, request, timeout);
  ::close(fd);
  return out;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string read_file(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
  if (!out)
    throw std::runtime_error("cannot write " + file.string());
}

} // namespace llmos::test
