// The server's side of the feedback loop: each request gets an id that feedback refers to, and a
// sample of the requests (the texts the model saw, what it answered, which version) goes to the
// feedback analyst, so that a correction joins to the prediction it corrects.
#pragma once

#include <string>

#include "serving/server_state.hpp"

namespace llmos::serving {

/// The id of the server's request number `n`: the caller's when it gave one.
std::string request_id_of(server_state& st, const std::string& given, uint64_t n);

/// Whether this request is logged (the configured sample share).
bool sampled(server_state& st);

/// Sends the answered request's records to the analyst (looked up once by name; records wait
/// while it is being found, at most 10,000, the oldest dropped first).
void log_served(server_self self, const pending_request& p);

/// The same for a completion: the prompt the model saw and the text it made.
void log_completion(server_self self, const complete_reply& reply, const std::string& prompt);

} // namespace llmos::serving
