// The serving benchmark (llmos-bench serving): a real node process trains a spam classifier,
// publishes it twice (one name served with dynamic batching, one served a request at a time),
// and a load generator of keep-alive HTTP clients measures throughput and p50/p99 at rising
// concurrency against both, beside the raw batched forward pass with no HTTP (the ceiling) and
// Debian's wrk as an outside load generator.
#pragma once

#include <string>

namespace llmos::bench {

struct serving_options {
  std::string json_path;
  std::string node_path;     ///< llmos-node
  double seconds = 3.0;      ///< per measurement
  int train_steps = 0;       ///< the classifier's training run (0 = 150 for bag, 20 otherwise)
  std::string model = "bag"; ///< spam-bag, spam-bilstm or spam-transformer
  bool wrk = true;
};

int run_serving(const serving_options& opts);

} // namespace llmos::bench
