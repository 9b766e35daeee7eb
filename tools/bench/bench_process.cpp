#include "bench_process.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace llmos::bench {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

child_process::child_process(std::vector<std::string> argv, const std::string& ready_word,
                             std::chrono::seconds timeout) {
  int out[2];
  if (::pipe(out) != 0)
    return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror("execv");
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  out_ = f;
  if (ready_word.empty()) { // nothing to wait for: the caller polls the child itself
    ready_ = true;
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char line[512];
  while (std::chrono::steady_clock::now() < deadline && std::fgets(line, sizeof(line), f)) {
    if (std::string{line}.rfind(ready_word, 0) == 0) {
      ready_ = true;
      break;
    }
  }
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_ != nullptr)
    std::fclose(out_);
}

std::string command_output(const std::string& cmd, int* rc) {
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    if (rc != nullptr)
      *rc = -1;
    return output;
  }
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr)
    output += buf;
  const int status = ::pclose(pipe);
  if (rc != nullptr)
    *rc = status;
  return output;
}

} // namespace llmos::bench
