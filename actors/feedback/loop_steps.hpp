// The retraining loop's steps, shared by its three files: loop_runner.cpp (triggers, the round's
// start and end, the canary's verdict), loop_prepare.cpp (the round's data sets and the
// fine-tune) and loop_canary.cpp (the evaluation, the publication and the canary). Internal to
// the feedback actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "feedback/feedback_state.hpp"
#include "llmos/messages/registry.hpp"

namespace llmos::feedback::loop {

constexpr auto call_timeout = std::chrono::seconds(60);
constexpr auto long_timeout = std::chrono::minutes(60);

using fail_fn = std::function<void(caf::error)>;

/// Moves round `r` on; a move out of order is a step that ran late, logged and not taken.
bool enter(loop_round& r, round_stage next);

/// Finds the actor `name` through the node manager.
void lookup(analyst_self self, const std::string& name, std::function<void(caf::actor)> then,
            fail_fn fail);

/// Ends the round: the decision is recorded, the round's helper actors stop, a cooldown starts.
void end_round(analyst_self self, const std::string& decision, const std::string& why,
               nlohmann::json extra = nlohmann::json::object());

/// Ends the round that is current now with `step`'s error; a late error for a round that
/// already ended (or another round's) is dropped.
fail_fn round_failed(analyst_self self, const std::string& step);

/// Outcomes and successes of a version: labelled and correct for classifiers, rated and thumbs
/// up for language models.
std::pair<uint64_t, uint64_t> outcomes(const version_stats* v, bool language);

/// Writes the round's inputs and builds its two data sets, then fine-tunes (loop_prepare.cpp);
/// a fine-tuned candidate goes on to evaluate().
void prepare(analyst_self self, model_package pkg, std::vector<data_record> original);

/// Candidate and production on the original held-out data and on the held-out feedback; an
/// accepted candidate is published and runs as a canary (loop_canary.cpp).
void evaluate(analyst_self self, caf::actor candidate, caf::actor production);

} // namespace llmos::feedback::loop
