// The "data" benchmark of llmos-bench (see data_bench.cpp): cleaning throughput on the real
// SpamAssassin corpus, MinHash speed, and near-duplicate recall/precision against exact ground
// truth, with a pure-Python MinHash peer on the same texts.
#pragma once

#include <cstddef>
#include <string>

namespace llmos::bench {

struct data_options {
  std::string json_path;         ///< --json FILE
  std::size_t sample = 1500;     ///< e-mails in the recall/precision sample (every n-th file)
  std::size_t repeats = 3;       ///< timed runs of the pipeline; the best is reported
  std::string python_script;     ///< tools/bench/data_peer.py; "" skips the Python peer
  std::size_t python_docs = 100; ///< documents the (slow) Python peer hashes
};

/// Runs the data benchmark and prints the table; 0 on success, 1 when the corpus is missing.
int run_data(const data_options& opts);

} // namespace llmos::bench
