// The body of POST /v1/completions and /v1/chat/completions checked and turned into a completion
// request, apart from any socket or actor, so that tests and the HTTP fuzzer drive exactly what a
// client's JSON reaches. Every field is checked for type and range before it is read: nlohmann's
// typed getters throw on a wrong type, and a throw in a handler is a 500, not the 400 naming the
// field that the client needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "llmos/messages/serving.hpp"

namespace llmos::http {

/// A completion body that passed every check.
struct completion_body {
  std::string model;
  complete_request request; ///< prompt or chat messages, sampling fields, a fresh request number
  bool stream = false;
  int64_t n = 1; ///< choices (1 with stream)
  bool echo = false;
  bool include_usage = false; ///< stream_options.include_usage
};

/// Why a body was refused: the message of the 400 answer and the field it names.
struct body_error {
  std::string message;
  std::string field;
};

/// A fresh request number (unique in this process), for each further choice of a request.
uint64_t next_request_number();

/// Checks `body` (a JSON object) as a completion (`chat` false) or chat completion body; on a
/// refusal fills `err` and returns nullopt. Never throws on any JSON value.
std::optional<completion_body> parse_completion_body(const nlohmann::json& body, bool chat,
                                                     body_error& err);

} // namespace llmos::http
