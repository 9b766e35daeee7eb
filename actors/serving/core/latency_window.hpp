// Recent request latencies for the serving status and bench: a ring buffer of the last N
// samples and percentiles over it. A window (not all-time) so that p99 shows today's behaviour
// after a slow warm-up, and bounded memory however long a server runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmos::serving {

/// The last `capacity` latencies in seconds and their percentiles.
class latency_window {
public:
  /// A window of the last `capacity` samples (at least 1).
  explicit latency_window(std::size_t capacity = 1024);

  /// Adds one latency in seconds, replacing the oldest when the window is full.
  void record(double seconds);

  /// The p-th percentile (p in [0, 100], clamped) of the window, interpolated linearly between
  /// the two nearest ranks (as numpy's default); 0 when the window is empty.
  double percentile(double p) const;

  /// Mean of the window; 0 when empty.
  double mean() const;

  /// Samples in the window (at most capacity()).
  std::size_t size() const { return values_.size(); }

  /// Samples the window holds at most.
  std::size_t capacity() const { return capacity_; }

  /// Samples recorded since construction or clear(), including those that left the window.
  uint64_t total() const { return total_; }

  /// Empties the window.
  void clear();

private:
  std::size_t capacity_;
  std::vector<double> values_; ///< grows to capacity_, then overwritten at next_
  std::size_t next_ = 0;
  uint64_t total_ = 0;
};

} // namespace llmos::serving
