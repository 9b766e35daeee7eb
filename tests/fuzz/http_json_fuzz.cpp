// What a client's JSON body reaches in the HTTP gateway: the depth check, the parse that refuses
// rather than throws, and the completion and chat completion field checks; then the error answer
// is rendered as it would be sent (with the client's bytes in it).
#include <nlohmann/json.hpp>

#include "fuzz_target.hpp"
#include "http/completion_body.hpp"
#include "http/json_depth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto text = llmos::fuzz::as_text(data, size);
  if (!llmos::http::json_depth_within(text, 64))
    return 0;
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded())
    return 0;
  for (bool chat : {false, true}) {
    llmos::http::body_error err;
    auto parsed = llmos::http::parse_completion_body(body, chat, err);
    nlohmann::json answer = parsed ? nlohmann::json{{"model", parsed->model},
                                                    {"prompt", parsed->request.prompt},
                                                    {"chat", parsed->request.chat}}
                                   : nlohmann::json{{"error", err.message}, {"field", err.field}};
    (void)answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
