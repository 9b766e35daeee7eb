#include "gateway/rpc_budget.hpp"

#include <algorithm>
#include <cmath>

namespace llmos {

bool rpc_budget::open(uint64_t conn) {
  if (conns_.size() >= bounds_.max_connections)
    return false;
  conns_.try_emplace(conn);
  return true;
}

void rpc_budget::close(uint64_t conn) {
  auto i = conns_.find(conn);
  if (i == conns_.end())
    return;
  buffered_ -= i->second.pending;
  conns_.erase(i);
}

bool rpc_budget::buffer(uint64_t conn, std::size_t pending) {
  auto i = conns_.find(conn);
  if (i == conns_.end())
    return false;
  const auto others = buffered_ - i->second.pending;
  if (others + pending > bounds_.max_buffered_bytes)
    return false;
  buffered_ = others + pending;
  i->second.pending = pending;
  return true;
}

bool rpc_budget::may_call(uint64_t conn) const {
  auto i = conns_.find(conn);
  return i != conns_.end() && i->second.in_flight < bounds_.max_in_flight &&
         i->second.unsent <= bounds_.max_unsent_bytes;
}

double rpc_budget::bucket_size(double rate, std::size_t in_flight) {
  return std::max(rate / 10, static_cast<double>(in_flight));
}

double rpc_budget::rate(bool busy) const {
  double r = bounds_.max_calls_per_s;
  if (busy && bounds_.busy_calls_per_s > 0) {
    const double share =
        bounds_.busy_calls_per_s / static_cast<double>(std::max<std::size_t>(1, conns_.size()));
    r = r > 0 ? std::min(r, share) : share;
  }
  return r;
}

std::chrono::milliseconds
rpc_budget::rate_wait(uint64_t conn, std::chrono::steady_clock::time_point now, bool busy) {
  auto i = conns_.find(conn);
  if (i == conns_.end())
    return std::chrono::milliseconds{0};
  auto& u = i->second;
  const double r = rate(busy);
  if (r <= 0) {
    u.tokens = -1; // the next limit in force starts with a full bucket
    return std::chrono::milliseconds{0};
  }
  const double full = bucket_size(r, bounds_.max_in_flight);
  if (u.tokens < 0) {
    u.tokens = full;
  } else {
    const std::chrono::duration<double> elapsed = now - u.refilled;
    u.tokens = std::min(full, u.tokens + elapsed.count() * r);
  }
  u.refilled = now;
  if (u.tokens >= 1)
    return std::chrono::milliseconds{0};
  const double seconds = (1 - u.tokens) / r;
  return std::chrono::milliseconds{static_cast<int64_t>(std::ceil(seconds * 1000))};
}

void rpc_budget::call_started(uint64_t conn) {
  if (auto i = conns_.find(conn); i != conns_.end()) {
    ++i->second.in_flight;
    if (i->second.tokens >= 1) // a limit is in force: rate_wait let this call through
      i->second.tokens -= 1;
  }
}

void rpc_budget::call_ended(uint64_t conn, std::size_t bytes) {
  auto i = conns_.find(conn);
  if (i == conns_.end())
    return;
  if (i->second.in_flight > 0)
    --i->second.in_flight;
  i->second.unsent += bytes;
}

void rpc_budget::wrote(uint64_t conn, std::size_t bytes) {
  if (auto i = conns_.find(conn); i != conns_.end())
    i->second.unsent += bytes;
}

void rpc_budget::sent(uint64_t conn, std::size_t remaining) {
  if (auto i = conns_.find(conn); i != conns_.end())
    i->second.unsent = remaining;
}

} // namespace llmos
