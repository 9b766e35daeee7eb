#include "tuner/core/bracket.hpp"

#include <algorithm>

namespace llmos::tuner {

std::vector<double> rung_resources(double min_resource, double max_resource, int eta) {
  // Multiplying, not log(max / min) / log(eta): the logarithms of 180 / 20 and of 3 need not
  // divide to exactly 2, and a lost rung would change the whole study.
  std::vector<double> levels{min_resource};
  while (levels.back() * eta <= max_resource)
    levels.push_back(levels.back() * eta);
  levels.back() = max_resource;
  return levels;
}

bracket::bracket(bracket_shape shape, int eta, objective_mode mode)
    : shape_(std::move(shape)), eta_(eta), mode_(mode) {}

double bracket::resource_at(int rung) const {
  return shape_.resources.at(static_cast<std::size_t>(rung - shape_.first_rung));
}

void bracket::record(uint64_t trial, int rung, double value) {
  results_[rung].emplace(trial, value);
}

void bracket::mark_promoted(uint64_t trial, int rung) {
  promoted_[rung].insert(trial);
}

std::vector<std::pair<uint64_t, double>> bracket::ranking(int rung) const {
  std::vector<std::pair<uint64_t, double>> ranked;
  if (auto at = results_.find(rung); at != results_.end())
    ranked.assign(at->second.begin(), at->second.end());
  // The map hands them over by rising id, so a stable sort keeps the lower id first on ties.
  std::stable_sort(ranked.begin(), ranked.end(), [this](const auto& a, const auto& b) {
    return is_better(mode_, a.second, b.second);
  });
  return ranked;
}

std::optional<double> bracket::result(uint64_t trial, int rung) const {
  auto at = results_.find(rung);
  if (at == results_.end())
    return std::nullopt;
  auto value = at->second.find(trial);
  return value == at->second.end() ? std::nullopt : std::optional<double>{value->second};
}

std::optional<uint64_t> bracket::candidate(int rung) const {
  const auto ranked = ranking(rung);
  // The top floor(n / eta) only: with fewer than eta results nobody has earned a promotion yet.
  const auto top = ranked.size() / static_cast<std::size_t>(eta_);
  const auto promoted = promoted_.find(rung);
  for (std::size_t i = 0; i < top; ++i)
    if (promoted == promoted_.end() || promoted->second.count(ranked[i].first) == 0)
      return ranked[i].first;
  return std::nullopt;
}

std::optional<std::pair<uint64_t, int>> bracket::promote() {
  // Highest rung first: finishing a trial that is far along tells more than another short one.
  for (int rung = top_rung() - 1; rung >= first_rung(); --rung)
    if (auto trial = candidate(rung)) {
      promoted_[rung].insert(*trial);
      return std::pair{*trial, rung + 1};
    }
  return std::nullopt;
}

bool bracket::can_promote() const {
  for (int rung = top_rung() - 1; rung >= first_rung(); --rung)
    if (candidate(rung))
      return true;
  return false;
}

} // namespace llmos::tuner
