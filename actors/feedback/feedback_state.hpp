// The feedback analyst's state: its durable logs, the analysis built from them, the labelled
// records a fine-tune trains on, and the loop's current round. Shared by feedback_actor.cpp
// (records in, analysis out) and loop_runner.cpp (trigger -> fine-tune -> canary -> decision).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <nlohmann/json.hpp>

#include "feedback/core/round_stage.hpp"

#include "feedback/core/loop_policy.hpp"
#include "feedback/core/record_log.hpp"
#include "feedback/core/version_stats.hpp"
#include "llmos/messages/feedback.hpp"

namespace llmos::feedback {

struct analyst_config {
  std::string name;
  std::filesystem::path root; ///< log, history and the loop's rounds
  log_options log;
  std::optional<loop_policy> policy; ///< none = analysis only, no loop
  std::size_t window = 200;
  uint32_t tick_ms = 1000;
  caf::actor manager;
};

/// A labelled feedback record joined to the request it is about: what a fine-tune trains on
/// (its "train" part) and what candidates are judged on (its "eval" part).
struct labelled_record {
  std::string request_id;
  std::string model;
  uint32_t version = 0;
  std::string text;
  std::string label;     ///< the user's ("" for a language model: `text` is what to learn)
  std::string predicted; ///< the model's label or completion
};

/// One trip round the loop, from its trigger to its decision.
struct loop_round {
  uint32_t number = 0;
  round_progress progress; ///< its stage; moves only forward (core/round_stage.hpp)
  std::string reason;
  double started = 0;
  std::filesystem::path dir;
  uint32_t production = 0; ///< the version it started from
  uint32_t candidate = 0;  ///< published fine-tune
  bool language = false;   ///< a language model: judged on perplexity and thumbs up
  std::string task;        ///< the scheduler task (and its model actor)
  std::string base_dataset, tuned_dataset, eval_dataset;
  /// The base data set's test split in production's tokens (what "original held-out" scores
  /// are on: an imported model's tokenizer is not the data set's).
  std::string original_dataset;
  uint64_t labelled_used = 0; ///< labelled records it trained on
  nlohmann::json scores = nlohmann::json::object();
  double canary_started = 0;
  uint64_t prod_labelled0 = 0, prod_correct0 = 0; ///< production's counts at the canary's start
};

struct analyst_state {
  analyst_config cfg;
  std::optional<record_log> log;
  std::optional<record_log> history_log;
  feedback_analysis analysis;
  std::vector<labelled_record> labelled;
  nlohmann::json history = nlohmann::json::array();
  std::optional<loop_policy> policy;
  std::optional<loop_round> round;
  uint32_t rounds = 0;           ///< rounds started so far (numbers the next)
  uint64_t corrections_mark = 0; ///< corrections counted when the last round began
  double cooldown_until = 0;
  std::vector<std::pair<uint64_t, caf::typed_response_promise<std::string>>> unsynced_acks;
  bool resolving = false; ///< asking the registry for production (once per tick at most)
  static inline const char* name = "llmos.feedback";
};

using analyst_self = feedback_actor::stateful_pointer<analyst_state>;

/// Seconds since the epoch (history and record times).
double wall_now();

/// Appends a decision to the history (durably) and the operator's log.
void record_decision(analyst_self self, nlohmann::json decision);

/// Judges the triggers when no round runs; advances the round that runs.
void advance_loop(analyst_self self);

} // namespace llmos::feedback
