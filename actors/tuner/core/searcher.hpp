// What the tuner actor asks of a search algorithm: the next training job to start, where its
// result goes, and the study's whole state as JSON to save and resume after a restart. The
// actor stays the same for random search, grid search, ASHA and Hyperband; each algorithm is a
// plan (random_search, grid_search, asha, hyperband) run by one bracket_searcher.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "tuner/core/search_space.hpp"
#include "tuner/core/study_spec.hpp"

namespace llmos::tuner {

/// One stretch of training for one trial.
struct trial_job {
  uint64_t trial = 0;       ///< trial id, from 1, unique in the study
  assignment params;        ///< the trial's model spec overrides (besides the study's fixed ones)
  int rung = 0;             ///< budget level it reaches
  double resource = 0;      ///< cumulative training steps to reach
  double from_resource = 0; ///< steps already trained: a promoted trial resumes its checkpoint
};

/// A search algorithm's bookkeeping; deterministic from the study's seed.
class searcher {
public:
  virtual ~searcher() = default;

  /// The next job to start; nullopt when nothing can start now (all started, or waiting for
  /// results that may earn a promotion).
  virtual std::optional<trial_job> next_job() = 0;

  /// The objective of a finished job (under spec.mode: for min lower is better). A NaN or
  /// infinite value counts as a failure; reports of jobs not running are ignored.
  virtual void report(uint64_t trial, int rung, double value) = 0;

  /// The job failed: the trial is never promoted from that rung.
  virtual void fail(uint64_t trial, int rung) = 0;

  /// Whether every job it will ever hand out has been handed out and reported or failed.
  virtual bool finished() const = 0;

  /// The whole state: trials with params and jobs (budget, state, result), counts and the best
  /// trial; restore_searcher takes it back.
  virtual nlohmann::json to_json() const = 0;

  /// Best trial at the highest rung any trial reported at (ties: lower id); nullopt before the
  /// first result.
  virtual std::optional<uint64_t> best_trial() const = 0;

  /// best_trial()'s objective at that rung.
  virtual std::optional<double> best_value() const = 0;

  /// The params of `trial`; nullopt for an id not started.
  virtual std::optional<assignment> params_of(uint64_t trial) const = 0;

  /// Trials started so far.
  virtual uint64_t trials_started() const = 0;

  /// Jobs handed out and neither reported nor failed.
  virtual std::size_t running() const = 0;

  /// Sum of resource - from_resource over the jobs handed out (once each, also across a
  /// restore that hands a job out again).
  virtual double compute_used() const = 0;
};

/// A fresh searcher for the study's algorithm.
std::unique_ptr<searcher> make_searcher(const study_spec& spec);

/// The searcher saved as `state` (searcher::to_json) for the same study. Jobs running at save
/// time are handed out again by next_job() before anything else. Refuses (bad_config) state of
/// another algorithm or budget ladder, and damaged state.
caf::expected<std::unique_ptr<searcher>> restore_searcher(const study_spec& spec,
                                                          const nlohmann::json& state);

} // namespace llmos::tuner
