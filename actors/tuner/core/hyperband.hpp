// Asynchronous Hyperband (Li et al. 2018): several ASHA brackets side by side, bracket s
// starting its trials at level s (min_resource * reduction^s steps), new trials dealt to the
// brackets in turn. ASHA alone bets that a short run ranks trials as a long one would; the
// brackets that start higher hedge that bet when early results mislead (warm-up, slow starters).
#pragma once

#include "tuner/core/bracket_searcher.hpp"

namespace llmos::tuner {

/// Brackets s = 0..K over the levels of rung_resources(min_resource, max_resource, reduction):
/// bracket s holds levels s..K. Trial n goes to bracket n mod (K + 1) with sample_nth(space,
/// seed, n); ids are unique across brackets.
searcher_plan hyperband_plan(const study_spec& spec);

} // namespace llmos::tuner
