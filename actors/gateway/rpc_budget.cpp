#include "gateway/rpc_budget.hpp"

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

void rpc_budget::call_started(uint64_t conn) {
  if (auto i = conns_.find(conn); i != conns_.end())
    ++i->second.in_flight;
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
