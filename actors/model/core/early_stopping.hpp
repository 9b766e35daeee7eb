// When to stop training: the best value of the validation metric so far and how many
// evaluations have passed without beating it. Kept apart from the trainer so the rule (strictly
// better by more than min_delta; patience 0 never stops) is tested on plain number sequences.
#pragma once

#include <cstdint>

namespace llmos::model {

/// Tracks the best value of a metric and the evaluations since it.
class early_stopping {
public:
  /// `higher_is_better`: accuracy-like (true) or loss-like (false) metrics.
  early_stopping(int64_t patience, bool higher_is_better, double min_delta = 0.0);

  /// Records one evaluation; true when `value` is a new best (the first value that is a number
  /// always is).
  bool update(double value);

  /// patience > 0 and at least `patience` evaluations since the best.
  bool should_stop() const;

  /// The best value so far (NaN before the first update).
  double best() const;

  /// Evaluations since the best one.
  int64_t since_best() const;

private:
  int64_t patience_;
  bool higher_is_better_;
  double min_delta_;
  bool seen_ = false;
  double best_;
  int64_t since_best_ = 0;
};

} // namespace llmos::model
