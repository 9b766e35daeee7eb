#include "tuner/core/grid_search.hpp"

#include <memory>

namespace llmos::tuner {

searcher_plan grid_search_plan(const study_spec& spec) {
  // Shared, not copied: a plan's function is copied with the plan, the grid can be large.
  auto points = std::make_shared<const std::vector<assignment>>(grid(spec.space, spec.grid_points));
  searcher_plan plan;
  plan.algorithm = algorithm_kind::grid;
  plan.mode = spec.mode;
  plan.eta = spec.reduction;
  plan.brackets = {bracket_shape{0, {spec.max_resource}}};
  plan.max_trials = points->size();
  plan.params_for = [points](uint64_t n) { return points->at(static_cast<std::size_t>(n)); };
  return plan;
}

} // namespace llmos::tuner
