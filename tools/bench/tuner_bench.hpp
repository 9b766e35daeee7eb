// The tuner benchmark (llmos-bench tuner): random search, ASHA and Hyperband on one real task
// (spam-bag on SpamAssassin, or the quotes topic classifier on fortunes) through a real node
// process (scheduler + tuner),
// two trials at a time, the same seed (so the first trials are the same points). Random search
// trains its trials fully; ASHA and Hyperband may start more trials, since they stop most of them
// early. Reported: the compute (training steps handed out) ASHA had used when it first reported
// a fully trained trial within 1% of the best accuracy random search found with its whole
// budget, as a fraction of that budget.
#pragma once

#include <string>

namespace llmos::bench {

struct tuner_options {
  std::string json_path;
  std::string node_path;     ///< llmos-node
  std::string task = "spam"; ///< spam (SpamAssassin, spam-bag) or quotes (fortunes, quotes-topic)
  int trials = 27;           ///< random search's trials (its full budget: trials x max_steps)
  int adaptive_trials = 81;  ///< ASHA's and Hyperband's: they may sample more for less compute
  int min_steps = 20;
  int max_steps = 540;
};

int run_tuner(const tuner_options& opts);

} // namespace llmos::bench
