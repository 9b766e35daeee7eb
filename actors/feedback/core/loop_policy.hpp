// The retraining loop's policy: which model the loop looks after, what starts a round (enough
// corrections, falling accuracy, input drift), how the candidate is fine-tuned and judged, and
// how its canary is run. People write it as a YAML file, so a refusal names the file, the line
// and the field and says how to fix it; a policy that loads needs no further checks.
#pragma once

#include <cstdint>
#include <string>

#include <caf/expected.hpp>

namespace llmos::feedback {

/// What starts a round; a threshold of 0 turns its trigger off.
struct trigger_policy {
  uint64_t min_corrections = 0; ///< corrected labels since the last round
  double accuracy_below = 0;    ///< window accuracy of the production version
  uint64_t min_labelled = 50;   ///< labelled outcomes before accuracy_below is judged
  double psi_above = 0;         ///< input drift: the larger of length and token PSI
  uint64_t window = 200;        ///< recent requests / labelled outcomes the analysis keeps
  double cooldown_s = 30;       ///< quiet time after a round ends
  bool operator==(const trigger_policy&) const = default;
};

/// How the candidate is trained.
struct finetune_policy {
  std::string dataset; ///< data set actor holding the original data (its train/test splits)
  std::string spec;    ///< model spec file, resolved path
  uint64_t steps = 200;
  double lr = 0;        ///< 0 = the spec's
  double holdout = 0.3; ///< share of corrections kept out of training to evaluate on
  double timeout_s = 1800;
  /// Copies of each labelled feedback record among the original records: a few hundred
  /// corrections would otherwise be a tenth of what the fine-tune sees.
  uint32_t feedback_weight = 1;
  bool operator==(const finetune_policy&) const = default;
};

/// When a candidate may go to canary.
struct evaluate_policy {
  double margin = 0.02;           ///< must beat production on the feedback hold-out by this
  double max_heldout_drop = 0.02; ///< and lose at most this on the original held-out data
  bool operator==(const evaluate_policy&) const = default;
};

/// How the canary runs and is judged.
struct canary_policy {
  double share = 0.2;         ///< of the requests that name no version, 0 < share < 1
  uint64_t min_labelled = 40; ///< labelled canary outcomes before judging
  double margin = 0.0;        ///< canary accuracy must reach production's + margin
  double max_s = 600;         ///< judged (or rolled back) after this long
  bool operator==(const canary_policy&) const = default;
};

struct loop_policy {
  std::string file; ///< where it was read from
  std::string model;
  std::string server;
  std::string registry = "registry";
  std::string scheduler = "sched";
  std::string alias = "production";
  trigger_policy triggers;
  finetune_policy finetune;
  evaluate_policy evaluate;
  canary_policy canary;
};

/// Parses a loop policy:
///   model: spam-bag            # registry model (required)
///   server: spam-serve         # server actor that runs canaries (required)
///   registry: registry         # (default registry)
///   scheduler: sched           # (default sched)
///   alias: production          # (default production)
///   triggers:                  # (optional; a threshold of 0 is off)
///     min_corrections: 50      # (0) corrected labels since the last round
///     accuracy_below: 0.9      # (0) window accuracy of the production version
///     min_labelled: 50         # (50) labelled feedback before accuracy_below is judged
///     psi_above: 0.25          # (0) input drift
///     window: 200              # (200)
///     cooldown_s: 30           # (30) after a round ends
///   finetune:                  # (required)
///     dataset: spam-early      # required: the data set actor with the original data
///     spec: model.yaml         # required: model spec, relative to this file's folder
///     steps: 200               # (200)
///     lr: 0.0                  # (0 = the spec's)
///     holdout: 0.3             # (0.3) 0..0.9
///     timeout_s: 1800          # (1800) the fine-tune task is cancelled after it
///     feedback_weight: 1       # (1) copies of each feedback record in the training data
///   evaluate: {margin: 0.02, max_heldout_drop: 0.02}
///   canary: {share: 0.2, min_labelled: 40, margin: 0.0, max_s: 600}
/// `file` names the file in messages and anchors relative paths; the spec file
/// must exist. Errors (bad_config) read "FILE:LINE: FIELD: what; fix".
caf::expected<loop_policy> parse_loop_policy(const std::string& yaml_text, const std::string& file);

/// Reads the file at `path` and parses it.
caf::expected<loop_policy> load_loop_policy(const std::string& path);

} // namespace llmos::feedback
