// One bracket of asynchronous successive halving (ASHA, Li et al. 2018): a ladder of rungs with
// growing training budgets, the results reported at each rung and which trials left it. Its one
// decision is ASHA's promotion rule: a trial moves up as soon as it is in the top 1/eta of what
// finished at its rung so far, so no rung ever waits for stragglers. Rungs are numbered by
// budget level across the study (level k trains min_resource * eta^k steps), so that Hyperband's
// brackets, which start at different levels, speak of the same rung by the same number.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "tuner/core/study_spec.hpp"

namespace llmos::tuner {

/// Training budgets of levels 0..K: min * eta^k for k < K and max for the top level K =
/// floor(log_eta(max / min)). The top trains the full max (not min * eta^K, which may fall short
/// of it) so that a winner is trained as long as a trial of random search.
std::vector<double> rung_resources(double min_resource, double max_resource, int eta);

/// Where a bracket's rungs start and what each trains.
struct bracket_shape {
  int first_rung = 0;            ///< level of the bracket's bottom rung
  std::vector<double> resources; ///< budget of levels first_rung, first_rung + 1, ...
};

/// Results and promotions of one bracket; knows nothing of parameters or running jobs.
class bracket {
public:
  bracket(bracket_shape shape, int eta, objective_mode mode);

  /// Level of the bottom rung.
  int first_rung() const { return shape_.first_rung; }

  /// Level of the top rung.
  int top_rung() const { return shape_.first_rung + static_cast<int>(shape_.resources.size()) - 1; }

  /// Whether level `rung` is one of this bracket's rungs.
  bool has_rung(int rung) const { return rung >= first_rung() && rung <= top_rung(); }

  /// The budget of level `rung` (a rung of this bracket).
  double resource_at(int rung) const;

  /// Records `trial`'s objective at `rung`; a second report for the same rung is ignored.
  void record(uint64_t trial, int rung, double value);

  /// Marks `trial` as moved up from `rung` (restoring a saved study).
  void mark_promoted(uint64_t trial, int rung);

  /// ASHA's rule, highest rung first: the best not yet promoted trial among the top
  /// floor(n / eta) of the n results at a rung below the top. Marks it promoted and returns it
  /// with the rung it moves to; nullopt when no rung has such a trial.
  std::optional<std::pair<uint64_t, int>> promote();

  /// Whether promote() would return a trial now.
  bool can_promote() const;

  /// The results at `rung`, best first (ties: lower trial id).
  std::vector<std::pair<uint64_t, double>> ranking(int rung) const;

  /// `trial`'s result at `rung`, if reported.
  std::optional<double> result(uint64_t trial, int rung) const;

private:
  std::optional<uint64_t> candidate(int rung) const;

  bracket_shape shape_;
  int eta_;
  objective_mode mode_;
  std::map<int, std::map<uint64_t, double>> results_; ///< level -> trial -> objective
  std::map<int, std::set<uint64_t>> promoted_;        ///< level -> trials that left it
};

} // namespace llmos::tuner
