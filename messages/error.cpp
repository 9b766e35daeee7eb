#include "llmos/messages/error.hpp"

#include <caf/message.hpp>

#include "llmos/messages/enum_names.hpp"

namespace llmos {

namespace {

constexpr enum_name<error_code> code_names[] = {{error_code::none, "none"},
                                                {error_code::bad_topology, "bad_topology"},
                                                {error_code::unknown_kind, "unknown_kind"},
                                                {error_code::bad_config, "bad_config"},
                                                {error_code::duplicate_name, "duplicate_name"},
                                                {error_code::no_such_actor, "no_such_actor"},
                                                {error_code::no_such_node, "no_such_node"},
                                                {error_code::no_such_method, "no_such_method"},
                                                {error_code::bad_params, "bad_params"},
                                                {error_code::unauthorized, "unauthorized"},
                                                {error_code::node_unreachable, "node_unreachable"},
                                                {error_code::malformed_frame, "malformed_frame"},
                                                {error_code::frame_too_large, "frame_too_large"},
                                                {error_code::kernel_failed, "kernel_failed"},
                                                {error_code::bad_option, "bad_option"},
                                                {error_code::io_failed, "io_failed"},
                                                {error_code::not_found, "not_found"},
                                                {error_code::overloaded, "overloaded"},
                                                {error_code::unavailable, "unavailable"}};

} // namespace

std::string to_string(error_code code) {
  const auto name = name_of(code_names, code, "");
  if (name.empty())
    return "error_code(" + std::to_string(static_cast<int>(code)) + ")";
  return std::string{name};
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
