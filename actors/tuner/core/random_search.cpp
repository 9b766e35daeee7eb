#include "tuner/core/random_search.hpp"

namespace llmos::tuner {

searcher_plan random_search_plan(const study_spec& spec) {
  searcher_plan plan;
  plan.algorithm = algorithm_kind::random;
  plan.mode = spec.mode;
  plan.eta = spec.reduction;
  plan.brackets = {bracket_shape{0, {spec.max_resource}}};
  plan.max_trials = spec.trials;
  plan.params_for = [space = spec.space, seed = spec.seed](uint64_t n) {
    return sample_nth(space, seed, n);
  };
  return plan;
}

} // namespace llmos::tuner
