// ASHA, asynchronous successive halving (Li et al. 2018): every trial starts with min_resource
// steps, and whenever a trial is in the top 1/reduction of what finished at its rung it resumes
// from its checkpoint for reduction times the budget, up to max_resource. Most trials stop
// after a short run, so a study tries many points for the cost of a few full trainings, and no
// trial ever waits for a rung to fill up (unlike synchronous successive halving).
#pragma once

#include "tuner/core/bracket_searcher.hpp"

namespace llmos::tuner {

/// One bracket with rungs rung_resources(min_resource, max_resource, reduction); trial n gets
/// sample_nth(space, seed, n), the same points as random search with the same seed.
searcher_plan asha_plan(const study_spec& spec);

} // namespace llmos::tuner
