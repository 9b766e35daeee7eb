// Random search: `trials` points drawn from the space, each trained to the full max_resource.
// The baseline every other algorithm must beat on compute, and the right choice when a short
// training run says little about a long one (so early stopping would drop the wrong trials).
#pragma once

#include "tuner/core/bracket_searcher.hpp"

namespace llmos::tuner {

/// One bracket with one rung at max_resource; trial n gets sample_nth(space, seed, n).
searcher_plan random_search_plan(const study_spec& spec);

} // namespace llmos::tuner
