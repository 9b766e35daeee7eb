// The learning rate per optimizer step: linear warm-up, then cosine decay to a floor. Warm-up
// keeps the first updates small while Adam's moment estimates are still noise; the floor keeps
// the last steps learning instead of stalling at zero. A pure function of the step, so a resumed
// run continues on the same curve.
#pragma once

#include <cstdint>

namespace llmos::model {

/// Linear warm-up from 0 to `base` over `warmup` steps, then cosine decay to base * min_ratio at
/// step `total`, constant at that floor afterwards; warmup 0 means no warm-up.
class lr_schedule {
public:
  lr_schedule(double base, int64_t warmup, int64_t total, double min_ratio);

  /// The learning rate of 0-based step `step`.
  double at(int64_t step) const;

private:
  double base_;
  int64_t warmup_;
  int64_t total_;
  double floor_;
};

} // namespace llmos::model
