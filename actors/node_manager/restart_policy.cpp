#include "node_manager/restart_policy.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"

namespace llmos {

caf::expected<restart_mode> parse_restart_mode(const std::string& text) {
  if (text == "always")
    return restart_mode::always;
  if (text == "on-failure")
    return restart_mode::on_failure;
  if (text == "never")
    return restart_mode::never;
  return make_llmos_error(error_code::bad_config,
                          "restart: '" + text + "' is not one of always, on-failure, never");
}

std::string to_string(restart_mode mode) {
  switch (mode) {
  case restart_mode::always:
    return "always";
  case restart_mode::on_failure:
    return "on-failure";
  case restart_mode::never:
    return "never";
  }
  return "never";
}

restart_tracker::restart_tracker(restart_mode mode, limits l) : mode_(mode), limits_(l) {}

std::optional<std::chrono::milliseconds> restart_tracker::on_exit(bool failure,
                                                                  clock::time_point now) {
  if (gave_up_ || mode_ == restart_mode::never || (mode_ == restart_mode::on_failure && !failure))
    return std::nullopt;
  while (!recent_.empty() && recent_.front() + limits_.window <= now)
    recent_.pop_front();
  if (recent_.size() >= limits_.max_restarts) {
    gave_up_ = true;
    return std::nullopt;
  }
  // Doubling per recent restart: a flapping actor waits longer, a stable one starts fast again.
  auto delay = limits_.initial;
  for (std::size_t i = 0; i < recent_.size() && delay < limits_.cap; ++i)
    delay *= 2;
  recent_.push_back(now);
  ++total_;
  return std::min(delay, limits_.cap);
}

} // namespace llmos
