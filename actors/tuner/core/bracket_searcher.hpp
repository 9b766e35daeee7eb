// The one searcher behind every algorithm: trials spread over brackets of successive halving,
// each trial's jobs with their budget, state and result, and the rule for what to start next
// (a job to hand out again after a restore, then a promotion, then a new trial). Random search,
// grid search, ASHA and Hyperband differ only in their plan: how many brackets with which rungs,
// how many trials and where a trial's params come from. Keeping one implementation means one
// save format and one set of restart rules, tested once.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "tuner/core/bracket.hpp"
#include "tuner/core/searcher.hpp"

namespace llmos::tuner {

/// What makes an algorithm: its brackets, its trial count and its params.
struct searcher_plan {
  algorithm_kind algorithm = algorithm_kind::asha; ///< written into the state, checked on restore
  objective_mode mode = objective_mode::max;
  int eta = 3;
  std::vector<bracket_shape> brackets; ///< new trials go to them round-robin
  uint64_t max_trials = 0;
  /// The params of the n-th trial started (0-based); must be a pure function of n, so that a
  /// restored study continues exactly as the one saved.
  std::function<assignment(uint64_t n)> params_for;
};

/// The plan of an algorithm that samples its points: trial n gets sample_nth(space, seed, n), up
/// to spec.trials trials, over `brackets` (random search, ASHA and Hyperband differ only there).
searcher_plan sampled_plan(const study_spec& spec, algorithm_kind algorithm,
                           std::vector<bracket_shape> brackets);

/// Runs a searcher_plan; see searcher for the contract.
class bracket_searcher final : public searcher {
public:
  explicit bracket_searcher(searcher_plan plan);

  /// Takes back state written by to_json() for the same plan; only on a fresh searcher.
  caf::error restore(const nlohmann::json& state);

  std::optional<trial_job> next_job() override;
  void report(uint64_t trial, int rung, double value) override;
  void fail(uint64_t trial, int rung) override;
  bool finished() const override;
  nlohmann::json to_json() const override;
  std::optional<uint64_t> best_trial() const override;
  std::optional<double> best_value() const override;
  std::optional<assignment> params_of(uint64_t trial) const override;
  uint64_t trials_started() const override { return trials_.size(); }
  std::size_t running() const override { return running_; }
  double compute_used() const override { return compute_used_; }

private:
  enum class job_state : uint8_t { running, done, failed };

  struct job_record {
    double resource = 0;
    double from_resource = 0;
    job_state state = job_state::running;
    double value = 0; ///< when done
  };

  struct trial_record {
    assignment params;
    std::size_t bracket = 0;
    std::map<int, job_record> jobs; ///< by rung
  };

  /// Records a new job and returns it.
  trial_job hand_out(uint64_t trial, int rung, double from_resource);
  /// The running job of `trial` at `rung`, or nullptr; takes it off the to-reissue list.
  job_record* settle(uint64_t trial, int rung);
  std::optional<std::pair<uint64_t, double>> best() const;
  void restore_trial(const nlohmann::json& t, uint64_t expected_id);

  searcher_plan plan_;
  std::vector<bracket> brackets_;
  std::map<uint64_t, trial_record> trials_;
  std::set<std::pair<uint64_t, int>> reissue_; ///< (trial, rung) running when saved
  std::size_t running_ = 0;
  double compute_used_ = 0;
};

} // namespace llmos::tuner
