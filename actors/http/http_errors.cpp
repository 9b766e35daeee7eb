#include "http/http_errors.hpp"

#include "llmos/messages/error.hpp"

namespace llmos::http {

int status_of(const caf::error& err) {
  if (err.category() != error_category) {
    // CAF's own: a request that timed out or an actor that is gone.
    return 503;
  }
  switch (static_cast<error_code>(err.code())) {
  case error_code::bad_params:
  case error_code::bad_config:
  case error_code::malformed_frame:
  case error_code::bad_option:
    return 400;
  case error_code::unauthorized:
    return 403;
  case error_code::not_found:
  case error_code::no_such_actor:
  case error_code::no_such_method:
    return 404;
  case error_code::frame_too_large:
    return 413;
  case error_code::overloaded:
    return 429;
  case error_code::unavailable:
  case error_code::node_unreachable:
    return 503;
  default:
    return 500;
  }
}

std::string error_body(int status, const std::string& reason, const std::string& field) {
  nlohmann::json e{{"status", status}, {"reason", reason}};
  if (!field.empty())
    e["field"] = field;
  return nlohmann::json{{"error", e}}.dump();
}

std::string error_body(const caf::error& err, const std::string& field) {
  std::string code = err.category() == error_category
                         ? to_string(static_cast<error_code>(err.code()))
                         : "unavailable";
  auto body = nlohmann::json::parse(error_body(status_of(err), describe(err), field));
  body["error"]["code"] = code;
  return body.dump();
}

} // namespace llmos::http
