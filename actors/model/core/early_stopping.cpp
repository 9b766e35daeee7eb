#include "model/core/early_stopping.hpp"

#include <cmath>
#include <limits>

namespace llmos::model {

early_stopping::early_stopping(int64_t patience, bool higher_is_better, double min_delta)
    : patience_(patience), higher_is_better_(higher_is_better), min_delta_(min_delta),
      best_(std::numeric_limits<double>::quiet_NaN()) {}

bool early_stopping::update(double value) {
  // A NaN (a diverged run) never counts as an improvement, not even as the first value.
  const bool better =
      !std::isnan(value) &&
      (!seen_ || (higher_is_better_ ? value > best_ + min_delta_ : value < best_ - min_delta_));
  if (better) {
    seen_ = true;
    best_ = value;
    since_best_ = 0;
  } else {
    ++since_best_;
  }
  return better;
}

bool early_stopping::should_stop() const {
  return patience_ > 0 && since_best_ >= patience_;
}

double early_stopping::best() const {
  return best_;
}

int64_t early_stopping::since_best() const {
  return since_best_;
}

} // namespace llmos::model
