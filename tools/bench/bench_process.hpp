// Processes for benchmarks: a free loopback port, a child process (llmos-node, a peer) that is
// killed when it goes out of scope, and a shell command's output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace llmos::bench {

/// A loopback TCP port that was free a moment ago.
uint16_t free_port();

/// A child process whose stdout we read until it prints a line starting with `ready_word`
/// ("" = do not wait: the caller polls the child itself).
class child_process {
public:
  child_process(std::vector<std::string> argv, const std::string& ready_word,
                std::chrono::seconds timeout);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  bool ready() const { return ready_; }

private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool ready_ = false;
};

/// What `cmd` (run by /bin/sh) printed on stdout; nullopt-like empty string with rc != 0 in `rc`.
std::string command_output(const std::string& cmd, int* rc = nullptr);

} // namespace llmos::bench
