// A failed-authentication rate limit per client address: after `max_failures` wrong or missing
// tokens within `window`, that address is answered 429 (without a token check) until the window
// ends. It makes guessing a token by trying over HTTP slow, and costs an honest client nothing.
// The table is bounded: beyond `max_addresses` the oldest entries go first, so a flood of
// addresses cannot grow it.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace llmos::http {

class auth_throttle {
public:
  using clock = std::chrono::steady_clock;

  struct limits {
    std::size_t max_failures = 10;
    std::chrono::seconds window{60};
    std::size_t max_addresses = 4096;
  };

  auth_throttle() = default;
  explicit auth_throttle(limits l) : limits_(l) {}

  /// Seconds `address` must still wait, or 0 when it may try.
  long blocked_for(const std::string& address, clock::time_point now);

  /// Counts one failed attempt from `address`.
  void failed(const std::string& address, clock::time_point now);

  std::size_t addresses() const;

private:
  struct entry {
    clock::time_point start; ///< the window's beginning
    std::size_t failures = 0;
  };
  void expire(clock::time_point now);

  limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, entry> entries_;
};

} // namespace llmos::http
