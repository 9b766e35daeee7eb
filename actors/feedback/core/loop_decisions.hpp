// The retraining loop's decisions as pure functions of the policy and the numbers the analysis
// and the evaluations produced: whether to start a round, whether a fine-tuned candidate may go
// to canary, whether a canary is promoted or rolled back, and which corrections are held out
// for evaluation. The loop actor only gathers the numbers and carries the decisions out, so
// every rule is tested here without actors, models or clocks. Each decision says why, with the
// numbers, for the loop's history and the operator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "feedback/core/loop_policy.hpp"

namespace llmos::feedback {

/// What the triggers look at for the production version.
struct trigger_input {
  uint64_t corrections_since_round = 0; ///< of the model, since the last round started
  uint64_t labelled = 0;                ///< labelled outcomes in the accuracy window
  double window_accuracy = 1;
  double input_psi = 0; ///< the larger of length and token PSI
  /// A language model: `labelled` counts rated answers and `window_accuracy` is the share of
  /// thumbs up among them (the reasons say so).
  bool ratings = false;
};

/// The reason to start a round, or nullopt. Checked in order, the first that applies wins:
/// "62 corrections since the last round (threshold 50)", "window accuracy 0.81 < 0.90 over 200
/// labelled" (only with at least min_labelled), "input drift PSI 0.31 > 0.25".
std::optional<std::string> should_trigger(const trigger_policy& policy, const trigger_input& in);

/// A decision with its reason.
struct verdict {
  enum kind { wait, go, stop } what;
  std::string why;
};

/// go (to canary) when the candidate beats production on the feedback hold-out by at least the
/// margin and loses at most max_heldout_drop on the original held-out data; stop otherwise.
verdict judge_candidate(const evaluate_policy& policy, double cand_feedback, double prod_feedback,
                        double cand_heldout, double prod_heldout);

/// wait while the canary has fewer than min_labelled labelled outcomes (or production has none
/// to compare against), unless max_s has passed: then stop (roll back). Once judged: go
/// (promote) when the canary's accuracy reaches production's + margin, stop (roll back) when not.
/// With `ratings` (language models) the outcomes are thumbs up/down and the accuracies their
/// thumbs-up shares.
verdict judge_canary(const canary_policy& policy, uint64_t canary_labelled, double canary_accuracy,
                     uint64_t prod_labelled, double prod_accuracy, double elapsed_s,
                     bool ratings = false);

/// "eval" or "train" for the correction of `request_id`: a hash of the id, so the same
/// correction lands on the same side in every round and after restarts; about `holdout` of the
/// ids are "eval".
std::string split_for_holdout(const std::string& request_id, double holdout);

} // namespace llmos::feedback
