#include "tuner/core/random_search.hpp"

namespace llmos::tuner {

searcher_plan random_search_plan(const study_spec& spec) {
  return sampled_plan(spec, algorithm_kind::random, {bracket_shape{0, {spec.max_resource}}});
}

} // namespace llmos::tuner
