// The feedback analyst's protocol. Records travel as JSON text (the shapes are in
// docs/feedback.md and actors/feedback/core/feedback_event.hpp): feedback comes from HTTP, RPC
// and the REPL, whose callers already hold JSON, and the analyst stores the same text in its log,
// so a typed struct would only be converted twice.
#pragma once

#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/type_ids.hpp"

namespace llmos {

using feedback_actor = caf::typed_actor<
    // client -> analyst: one feedback record {"request_id", "rating", "label", "completion",
    // "comment"}; answered (JSON: sequence number, joined version) once it is in the log under
    // the log's fsync policy. Fails bad_params (fields), not_found (unknown request id).
    caf::replies_to<feedback_atom, std::string>::with<std::string>,
    // server -> analyst: a JSON array of served requests (id, model, version, text, label,
    // confidence), sampled by the server.
    caf::reacts_to<log_atom, std::string>,
    // client -> analyst: the analysis per model version, and the loop's state (JSON).
    caf::replies_to<status_atom>::with<std::string>,
    // client -> analyst: every decision of the loop, oldest first (JSON array).
    caf::replies_to<history_atom>::with<std::string>,
    // analyst -> itself: analyse, judge the triggers, advance the loop.
    caf::reacts_to<tick_atom>>;

} // namespace llmos
