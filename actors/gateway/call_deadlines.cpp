#include "gateway/call_deadlines.hpp"

#include <algorithm>

namespace llmos {

uint64_t call_deadlines::start(call c, clock::time_point now) {
  c.deadline = now + c.limit;
  calls_.emplace(++next_, std::move(c));
  return next_;
}

bool call_deadlines::finish(uint64_t key) {
  return calls_.erase(key) == 1;
}

void call_deadlines::alive(uint64_t connection, clock::time_point now) {
  for (auto& [key, c] : calls_)
    if (c.connection == connection)
      c.deadline = std::max(c.deadline, now + c.limit);
}

std::vector<call_deadlines::call> call_deadlines::expire(clock::time_point now) {
  std::vector<call> out;
  for (auto i = calls_.begin(); i != calls_.end();) {
    if (i->second.deadline <= now) {
      out.push_back(std::move(i->second));
      i = calls_.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

void call_deadlines::drop(uint64_t connection) {
  for (auto i = calls_.begin(); i != calls_.end();)
    i = i->second.connection == connection ? calls_.erase(i) : std::next(i);
}

} // namespace llmos
