// Grid search: every point of grid(space, grid_points), in grid order, each trained to the full
// max_resource. Exhaustive and easy to read off a table, but its cost multiplies with every
// parameter, so the study parser refuses grids of more than 10000 points.
#pragma once

#include "tuner/core/bracket_searcher.hpp"

namespace llmos::tuner {

/// One bracket with one rung at max_resource; trial n gets the n-th grid point. The study's
/// `trials` does not apply: the grid is the trial count.
searcher_plan grid_search_plan(const study_spec& spec);

} // namespace llmos::tuner
