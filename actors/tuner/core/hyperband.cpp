#include "tuner/core/hyperband.hpp"

namespace llmos::tuner {

searcher_plan hyperband_plan(const study_spec& spec) {
  const auto levels = rung_resources(spec.min_resource, spec.max_resource, spec.reduction);
  searcher_plan plan;
  plan.algorithm = algorithm_kind::hyperband;
  plan.mode = spec.mode;
  plan.eta = spec.reduction;
  for (std::size_t s = 0; s < levels.size(); ++s)
    plan.brackets.push_back(
        bracket_shape{static_cast<int>(s),
                      std::vector<double>(levels.begin() + static_cast<long>(s), levels.end())});
  plan.max_trials = spec.trials;
  plan.params_for = [space = spec.space, seed = spec.seed](uint64_t n) {
    return sample_nth(space, seed, n);
  };
  return plan;
}

} // namespace llmos::tuner
