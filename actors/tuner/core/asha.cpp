#include "tuner/core/asha.hpp"

namespace llmos::tuner {

searcher_plan asha_plan(const study_spec& spec) {
  return sampled_plan(
      spec, algorithm_kind::asha,
      {bracket_shape{0, rung_resources(spec.min_resource, spec.max_resource, spec.reduction)}});
}

} // namespace llmos::tuner
