// The feedback analyst: takes feedback on predictions (HTTP, RPC, REPL) and the servers' request
// logs, keeps both in a durable checksummed log, analyses them per model version (accuracy over
// a sliding window, confusion, calibration, input and prediction drift) and, given a loop
// policy, closes the loop: triggers a fine-tune through the scheduler, judges the candidate
// against production, runs it as a canary and promotes it or rolls it back.
#pragma once

#include "llmos/messages/feedback.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "feedback" actor kind (config: log, fsync, batch_records, policy, root, window, tick_ms).
actor_kind feedback_kind();

} // namespace llmos
