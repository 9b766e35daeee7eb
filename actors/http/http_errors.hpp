// HTTP status and JSON body for llmos errors: every refusal names the reason and, where there is
// one, the field, e.g. {"error": {"status": 400, "code": "bad_params", "reason": "...",
// "field": "texts"}}, with OpenAI's error fields beside them ("message", "type" such as
// "invalid_request_error", "param"). A 429 carries Retry-After.
#pragma once

#include <string>

#include <caf/error.hpp>
#include <nlohmann/json.hpp>

namespace llmos::http {

/// 400 bad input, 401/403 auth, 404 unknown model/version, 413, 429 queue full, 503 no replica.
int status_of(const caf::error& err);

/// The JSON body of an error answer.
std::string error_body(int status, const std::string& reason, const std::string& field = "");

/// status_of + error_body for an llmos error.
std::string error_body(const caf::error& err, const std::string& field = "");

} // namespace llmos::http
