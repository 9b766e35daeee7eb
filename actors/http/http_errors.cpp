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

/// OpenAI's error type for a status (what its client libraries map to exception classes).
const char* openai_type(int status) {
  switch (status) {
  case 400:
  case 404:
  case 413:
    return "invalid_request_error";
  case 401:
  case 403:
    return "authentication_error";
  case 429:
    return "rate_limit_error";
  case 503:
    return "service_unavailable";
  default:
    return "server_error";
  }
}

std::string error_body(int status, const std::string& reason, const std::string& field) {
  // llmos's fields (status, reason, field) and OpenAI's (message, type, param, code) together,
  // so that both llmos tools and OpenAI's client libraries read the same answer.
  nlohmann::json e{{"status", status},
                   {"reason", reason},
                   {"message", reason},
                   {"type", openai_type(status)},
                   {"param", field.empty() ? nlohmann::json(nullptr) : nlohmann::json(field)},
                   {"code", nullptr}};
  if (!field.empty())
    e["field"] = field;
  // The reason may quote outside text (a request path, a field's value) that is not UTF-8,
  // which dump() would throw on out of the handler: such bytes become U+FFFD.
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false,
                                           nlohmann::json::error_handler_t::replace);
}

std::string error_body(const caf::error& err, const std::string& field) {
  std::string code = err.category() == error_category
                         ? to_string(static_cast<error_code>(err.code()))
                         : "unavailable";
  auto body = nlohmann::json::parse(error_body(status_of(err), describe(err), field));
  body["error"]["code"] = code;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace llmos::http
