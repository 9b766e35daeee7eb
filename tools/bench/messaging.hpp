// The "messaging" benchmark of llmos-bench (see messaging.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmos::bench {

struct messaging_options {
  std::size_t n = 20000;             ///< requests per measurement
  std::size_t window = 64;           ///< requests in flight for throughput
  std::string json_path;             ///< --json FILE
  std::string self_path;             ///< this program (started again as the raw CAF peer)
  std::string node_path;             ///< llmos-node
  std::string erlang_script;         ///< tools/bench/erlang/run.sh; "" skips Erlang
  std::vector<std::string> caf_args; ///< CAF options given to every process (ours and raw)
};

/// Runs every path and prints the table; 0 on success.
int run_messaging(const messaging_options& opts);

/// The raw CAF peer process: publishes a bare pong actor on `port`, prints "ready PORT".
int serve_raw_caf(uint16_t port, const std::vector<std::string>& caf_args);

} // namespace llmos::bench
