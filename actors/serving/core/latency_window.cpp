#include "serving/core/latency_window.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace llmos::serving {

latency_window::latency_window(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {
  values_.reserve(capacity_);
}

void latency_window::record(double seconds) {
  if (values_.size() < capacity_)
    values_.push_back(seconds);
  else
    values_[next_] = seconds;
  next_ = (next_ + 1) % capacity_;
  ++total_;
}

double latency_window::percentile(double p) const {
  if (values_.empty())
    return 0.0;
  // A copy and two selections rather than a sorted structure: percentiles are asked for a few
  // times a second, records arrive per request, so recording stays O(1).
  std::vector<double> sorted = values_;
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(lo), sorted.end());
  const double low = sorted[lo];
  // After nth_element everything past lo is >= it, so the next rank is the minimum of the rest.
  const double high =
      hi == lo ? low
               : *std::min_element(sorted.begin() + static_cast<std::ptrdiff_t>(hi), sorted.end());
  return low + (high - low) * (rank - static_cast<double>(lo));
}

double latency_window::mean() const {
  if (values_.empty())
    return 0.0;
  return std::accumulate(values_.begin(), values_.end(), 0.0) / static_cast<double>(values_.size());
}

void latency_window::clear() {
  values_.clear();
  next_ = 0;
  total_ = 0;
}

} // namespace llmos::serving
