// How long an RPC call may wait for its answer. The broker used to give every call one CAF
// request timeout of 24 hours (a training run answers when it ends), so a call that was never
// answered held its slot for a day. Now each call waits at most its connection's limit (1 hour
// unless the client chose one with the `timeout` method), counted from its start or from the
// last progress its connection reported: a training run that reports every few seconds lives as
// long as it works, a call that hangs is answered `request_timeout` after the limit.
// Plain (no CAF) so that it is tested with made-up times.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmos {

inline constexpr std::chrono::milliseconds default_call_limit{60 * 60 * 1000};
inline constexpr std::chrono::milliseconds max_call_limit{24 * 60 * 60 * 1000};

class call_deadlines {
public:
  using clock = std::chrono::steady_clock;

  struct call {
    uint64_t connection = 0;
    uint32_t msgid = 0;
    bool notification = false;
    std::string method;
    std::chrono::milliseconds limit = default_call_limit;
    clock::time_point deadline;
  };

  /// A call that starts now; returns its key.
  uint64_t start(call c, clock::time_point now);

  /// The call's answer came: true when it was still waiting (answer it), false when it had
  /// expired already (drop the late answer).
  bool finish(uint64_t key);

  /// The connection reported progress: each of its calls may wait its limit again from now.
  void alive(uint64_t connection, clock::time_point now);

  /// Removes and returns the calls whose deadline has passed.
  std::vector<call> expire(clock::time_point now);

  /// Forgets the calls of a closed connection.
  void drop(uint64_t connection);

  bool empty() const { return calls_.empty(); }
  std::size_t size() const { return calls_.size(); }

private:
  std::map<uint64_t, call> calls_;
  uint64_t next_ = 0;
};

} // namespace llmos
