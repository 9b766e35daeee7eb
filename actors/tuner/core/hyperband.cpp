#include "tuner/core/hyperband.hpp"

namespace llmos::tuner {

searcher_plan hyperband_plan(const study_spec& spec) {
  const auto levels = rung_resources(spec.min_resource, spec.max_resource, spec.reduction);
  std::vector<bracket_shape> brackets;
  for (std::size_t s = 0; s < levels.size(); ++s)
    brackets.push_back(
        bracket_shape{static_cast<int>(s),
                      std::vector<double>(levels.begin() + static_cast<long>(s), levels.end())});
  return sampled_plan(spec, algorithm_kind::hyperband, std::move(brackets));
}

} // namespace llmos::tuner
