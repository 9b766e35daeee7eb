#include "llmos/runtime/restart_mode.hpp"

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

} // namespace llmos
