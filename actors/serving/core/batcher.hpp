// Dynamic batching for the serving path: requests wait in a bounded, prioritised queue until
// either a full batch has gathered or the oldest request has waited the longest we allow. A
// bigger batch uses the device better, the delay bound caps what a lone request pays for that.
// Time is passed in by the caller (no clock reads here), so the actor drives it from its timer
// and tests drive it with explicit time points.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <caf/error.hpp>

namespace llmos::serving {

/// How a dynamic_batcher forms batches.
struct batcher_config {
  uint32_t max_batch = 32;                   ///< requests per batch at most
  std::chrono::microseconds max_delay{2000}; ///< longest wait of the oldest request before a batch
  uint32_t queue_limit = 1024;               ///< queued requests at most; beyond it push refuses
  uint32_t priorities = 3;                   ///< priority levels; 0 is the most urgent
};

/// Refuses (bad_params, naming the field) max_batch 0, queue_limit < max_batch, priorities 0,
/// and a negative max_delay.
caf::error validate(const batcher_config& config);

/// A bounded queue of request ids that hands them out in batches, most urgent first.
class dynamic_batcher {
public:
  using clock = std::chrono::steady_clock;

  /// A batcher with `config`; call validate first (a bad config is a programmer error here).
  explicit dynamic_batcher(batcher_config config = {});

  /// Queues request `id`; false when the queue already holds queue_limit requests (the caller
  /// answers "overloaded", HTTP 429). A priority beyond the last level counts as the last level.
  bool push(uint64_t id, uint32_t priority, clock::time_point now);

  /// True when a batch should go now: max_batch requests wait, or the oldest has waited
  /// max_delay.
  bool ready(clock::time_point now) const;

  /// When the oldest queued request reaches max_delay (the time to set a timer for); nullopt
  /// when the queue is empty.
  std::optional<clock::time_point> deadline() const;

  /// Up to max_batch ids, most urgent level first and in arrival order within a level.
  std::vector<uint64_t> take();

  /// Requests queued.
  std::size_t size() const { return size_; }

  /// Drops request `id` (its caller cancelled); false when it is not queued.
  bool remove(uint64_t id);

  /// The configuration in use.
  const batcher_config& config() const { return config_; }

private:
  struct item {
    uint64_t id;
    clock::time_point enqueued;
  };

  /// The earliest enqueue time of all levels; the queue must not be empty.
  clock::time_point oldest() const;

  batcher_config config_;
  std::vector<std::deque<item>> levels_; ///< one FIFO per priority level
  std::size_t size_ = 0;
};

} // namespace llmos::serving
