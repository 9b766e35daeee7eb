// The tuner benchmark (llmos-bench tuner): random search, ASHA and Hyperband on one real task
// (the quotes topic classifier on fortunes) through a real node process (scheduler + tuner),
// the same trials (same seed, so the same points), two trials at a time. Reported: the compute
// (training steps) ASHA needed to reach within 1% of the best accuracy random search finds
// with its whole budget, as a fraction of that budget.
#pragma once

#include <string>

namespace llmos::bench {

struct tuner_options {
  std::string json_path;
  std::string node_path; ///< llmos-node
  int trials = 27;
  int min_steps = 20;
  int max_steps = 540;
};

int run_tuner(const tuner_options& opts);

} // namespace llmos::bench
