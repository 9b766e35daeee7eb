#include "child_exec.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace llmos {

[[noreturn]] void exec_child(char** argv, pid_t parent, int out_fd, int err_fd, int exec_fd) {
  // Own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops
  // the nodes in order, and stop signals can address a node's helpers too.
  ::setpgid(0, 0);
  // If the launcher dies without cleaning up (SIGKILL), the nodes follow it. The death signal
  // is tied to the forking thread, so start() belongs on a thread that outlives the children.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent)
    ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  // A background process group reading the terminal would be stopped by SIGTTIN.
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0 && ::dup2(null_fd, STDIN_FILENO) >= 0 && null_fd != STDIN_FILENO)
    ::close(null_fd);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  ::execvp(argv[0], argv);
  int error = errno;
  [[maybe_unused]] auto written = ::write(exec_fd, &error, sizeof error);
  ::_exit(127);
}

int exec_failure(int fd) {
  int exec_error = 0;
  ssize_t n;
  do {
    n = ::read(fd, &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof exec_error) ? exec_error : 0;
}

} // namespace llmos
