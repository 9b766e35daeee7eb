// When a node restarts an actor of its own that went down: the actor's policy (a topology key,
// or a `restart` key given to spawn) says whether at all — `always` (any end other than a stop
// asked for), `on-failure` (an end that was not normal: an exception, a kill), `never` — and
// the tracker spaces the restarts out (back-off doubling from 250 ms to 30 s) and gives up
// after 5 restarts within a minute, so an actor that dies on start does not spin the node.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "llmos/runtime/restart_mode.hpp"

namespace llmos {

class restart_tracker {
public:
  using clock = std::chrono::steady_clock;

  struct limits {
    std::chrono::milliseconds initial{250};
    std::chrono::milliseconds cap{30000};
    uint32_t max_restarts = 5; ///< within `window`; one more end and the tracker gives up
    std::chrono::seconds window{60};
  };

  explicit restart_tracker(restart_mode mode, limits l);
  explicit restart_tracker(restart_mode mode) : restart_tracker(mode, limits{}) {}

  /// The actor ended (`failure`: not a normal end) at `now`: the delay before its restart, or
  /// nullopt when there is none (the policy, or the limit: then gave_up() is true).
  std::optional<std::chrono::milliseconds> on_exit(bool failure, clock::time_point now);

  restart_mode mode() const { return mode_; }
  bool gave_up() const { return gave_up_; }
  uint32_t restarts() const { return total_; } ///< every restart granted so far

private:
  restart_mode mode_;
  limits limits_;
  std::deque<clock::time_point> recent_; ///< restarts granted within the window
  uint32_t total_ = 0;
  bool gave_up_ = false;
};

} // namespace llmos
