#include "tuner/core/searcher.hpp"

#include "tuner/core/asha.hpp"
#include "tuner/core/bracket_searcher.hpp"
#include "tuner/core/grid_search.hpp"
#include "tuner/core/hyperband.hpp"
#include "tuner/core/random_search.hpp"

namespace llmos::tuner {

namespace {

searcher_plan plan_of(const study_spec& spec) {
  switch (spec.algorithm) {
  case algorithm_kind::random:
    return random_search_plan(spec);
  case algorithm_kind::grid:
    return grid_search_plan(spec);
  case algorithm_kind::asha:
    return asha_plan(spec);
  case algorithm_kind::hyperband:
    return hyperband_plan(spec);
  }
  return asha_plan(spec);
}

} // namespace

std::unique_ptr<searcher> make_searcher(const study_spec& spec) {
  return std::make_unique<bracket_searcher>(plan_of(spec));
}

caf::expected<std::unique_ptr<searcher>> restore_searcher(const study_spec& spec,
                                                          const nlohmann::json& state) {
  auto restored = std::make_unique<bracket_searcher>(plan_of(spec));
  if (auto err = restored->restore(state))
    return err;
  return std::unique_ptr<searcher>{std::move(restored)};
}

} // namespace llmos::tuner
