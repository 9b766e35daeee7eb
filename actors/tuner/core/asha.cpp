#include "tuner/core/asha.hpp"

namespace llmos::tuner {

searcher_plan asha_plan(const study_spec& spec) {
  searcher_plan plan;
  plan.algorithm = algorithm_kind::asha;
  plan.mode = spec.mode;
  plan.eta = spec.reduction;
  plan.brackets = {
      bracket_shape{0, rung_resources(spec.min_resource, spec.max_resource, spec.reduction)}};
  plan.max_trials = spec.trials;
  plan.params_for = [space = spec.space, seed = spec.seed](uint64_t n) {
    return sample_nth(space, seed, n);
  };
  return plan;
}

} // namespace llmos::tuner
