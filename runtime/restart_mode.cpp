#include "llmos/runtime/restart_mode.hpp"

#include "llmos/messages/enum_names.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

constexpr enum_name<restart_mode> names[] = {{restart_mode::always, "always"},
                                             {restart_mode::on_failure, "on-failure"},
                                             {restart_mode::never, "never"}};

} // namespace

caf::expected<restart_mode> parse_restart_mode(const std::string& text) {
  if (auto mode = value_of(names, text))
    return *mode;
  return make_llmos_error(error_code::bad_config,
                          "restart: '" + text + "' is not one of " + names_of(names));
}

std::string to_string(restart_mode mode) {
  return std::string{name_of(names, mode, "never")};
}

} // namespace llmos
