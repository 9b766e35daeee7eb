#include "llmos/messages/error.hpp"

#include <caf/message.hpp>

namespace llmos {

std::string to_string(error_code code) {
  switch (code) {
  case error_code::none:
    return "none";
  case error_code::bad_topology:
    return "bad_topology";
  case error_code::unknown_kind:
    return "unknown_kind";
  case error_code::bad_config:
    return "bad_config";
  case error_code::duplicate_name:
    return "duplicate_name";
  case error_code::no_such_actor:
    return "no_such_actor";
  case error_code::no_such_node:
    return "no_such_node";
  case error_code::no_such_method:
    return "no_such_method";
  case error_code::bad_params:
    return "bad_params";
  case error_code::unauthorized:
    return "unauthorized";
  case error_code::node_unreachable:
    return "node_unreachable";
  case error_code::malformed_frame:
    return "malformed_frame";
  case error_code::frame_too_large:
    return "frame_too_large";
  case error_code::kernel_failed:
    return "kernel_failed";
  case error_code::bad_option:
    return "bad_option";
  case error_code::io_failed:
    return "io_failed";
  case error_code::not_found:
    return "not_found";
  case error_code::overloaded:
    return "overloaded";
  case error_code::unavailable:
    return "unavailable";
  }
  return "error_code(" + std::to_string(static_cast<int>(code)) + ")";
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  std::string code_name;
  if (err.category() == error_category)
    code_name = to_string(static_cast<error_code>(err.code()));
  else
    code_name = caf::to_string(err.category()) + " error " + std::to_string(err.code());
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return code_name + ": " + ctx.get_as<std::string>(0);
  if (!ctx.empty())
    return code_name + ": " + caf::to_string(ctx);
  return code_name;
}

} // namespace llmos
