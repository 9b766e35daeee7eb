// The stages one round of the retraining loop goes through, and the only moves between them.
// The loop's steps answer asynchronously; keeping the transitions in one place means a step
// that runs late (a reply after the round moved on) cannot put the round back into a stage it
// already left: the move is refused and the caller says so.
#pragma once

#include <cstdint>

namespace llmos::feedback {

enum class round_stage : uint8_t {
  preparing,  ///< building the tuned and held-out data sets from the labelled feedback
  training,   ///< the fine-tune runs as a scheduler task
  evaluating, ///< candidate and production scored on both held-out sets
  canary,     ///< the candidate serves its share of the traffic beside production
  deciding,   ///< the canary was judged: promoting or rolling back
};

/// "preparing", "training", "evaluating", "canary", "deciding".
const char* to_string(round_stage s);

/// Where a round is; starts at preparing and only moves forward one stage at a time
/// (preparing → training → evaluating → canary → deciding). A round that is rejected or fails
/// ends where it is: the loop drops it, there is no stage for that.
class round_progress {
public:
  round_stage stage() const { return stage_; }

  /// Moves to `next` when it is the stage after the current one; false (and no move) otherwise.
  bool move_to(round_stage next);

  /// Whether the candidate serves traffic (canary or deciding): a round that fails then must
  /// end the canary.
  bool candidate_on_trial() const {
    return stage_ == round_stage::canary || stage_ == round_stage::deciding;
  }

private:
  round_stage stage_ = round_stage::preparing;
};

} // namespace llmos::feedback
