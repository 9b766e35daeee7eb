#include "model/core/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmos::model {

lr_schedule::lr_schedule(double base, int64_t warmup, int64_t total, double min_ratio)
    : base_(base), warmup_(std::max<int64_t>(warmup, 0)), total_(total), floor_(base * min_ratio) {}

double lr_schedule::at(int64_t step) const {
  // Step 0 already gets base / warmup: a first step at lr 0 would be wasted work.
  if (step < warmup_)
    return base_ * static_cast<double>(std::max<int64_t>(step, 0) + 1) /
           static_cast<double>(warmup_);
  const auto span = static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
  const double p = std::clamp(static_cast<double>(step - warmup_) / span, 0.0, 1.0);
  return floor_ + (base_ - floor_) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
}

} // namespace llmos::model
