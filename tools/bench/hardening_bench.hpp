// llmos-bench hardening: what hardening costs and what it holds. Serving throughput of a node
// with and without a client flooding its RPC port beside it, the heartbeats its peer and it miss
// meanwhile, and the fuzzers' figures from the last `make fuzz` (build-fuzz/fuzz-summary.json).
#pragma once

#include <string>

namespace llmos::bench {

struct hardening_options {
  std::string json_path;     ///< flat JSON results ("" = none)
  std::string node_path;     ///< llmos-node
  std::string fuzz_summary;  ///< tools/fuzz/run.sh's summary
  double seconds = 5;        ///< per serving measurement
  double rpc_rate = 0;       ///< node a's --rpc-rate (0: no limit)
  int rpc_nice = -1;         ///< node a's --rpc-nice (-1: llmos-node's default)
  double rpc_busy_rate = -1; ///< node a's --rpc-busy-rate (-1: llmos-node's default)
};

int run_hardening(const hardening_options& opts);

} // namespace llmos::bench
