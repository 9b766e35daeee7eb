// A streamed completion request for the serving tests that watch pieces arrive (or stop reading
// them, as a client that goes away does).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace llmos::test {

/// POST /v1/completions of `body` with "stream": true; each piece goes to `receive`, which
/// returns false to hang up.
inline httplib::Request streamed_completion(nlohmann::json body,
                                            httplib::ContentReceiverWithProgress receive) {
  httplib::Request r;
  r.method = "POST";
  r.path = "/v1/completions";
  body["stream"] = true;
  r.body = body.dump();
  r.set_header("Content-Type", "application/json");
  r.content_receiver = std::move(receive);
  return r;
}

} // namespace llmos::test
