// The feedback loop benchmark (llmos-bench loop): feedback ingest per second into the analyst's
// durable log (fsync per record and batched) side by side with plain write+fdatasync of the same
// bytes and a Python peer (json + os.fsync, what a small Flask feedback service does); then the
// main job scaled down (tools/demo/demo.sh) for the time from the trigger to the promotion and
// the accuracy on the shifted data before and after the loop.
#pragma once

#include <string>

namespace llmos::bench {

struct loop_options {
  std::string json_path;
  std::string bin_dir;       ///< llmos-node, llmos-repl, llmos-traffic
  std::string python_script; ///< "" = no peer
  std::string demo_script;   ///< "" = ingest only
  int records = 2000;        ///< feedback records per ingest measurement (fsync per record)
};

int run_loop(const loop_options& opts);

} // namespace llmos::bench
