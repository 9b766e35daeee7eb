#include "dataset/split/split.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <tuple>

#include <xxhash.h>

#include "llmos/messages/enum_names.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

uint64_t order_key(uint64_t seed, const std::string& id) {
  // Hashing the id with the seed as XXH3's seed gives every seed its own shuffle of each group.
  return XXH3_64bits_withSeed(id.data(), id.size(), seed);
}

// Largest-remainder rounding of n * fractions: each count is within one of its exact share and
// the counts sum to n. Ties in the remainder go to the earlier part (train first).
std::array<std::size_t, 3> part_sizes(std::size_t n, const std::array<double, 3>& fractions) {
  std::array<std::size_t, 3> sizes{};
  std::array<double, 3> remainders{};
  std::size_t given = 0;
  for (std::size_t p = 0; p < 3; ++p) {
    const double exact = static_cast<double>(n) * fractions[p];
    sizes[p] = std::min(n, static_cast<std::size_t>(std::floor(exact)));
    remainders[p] = exact - static_cast<double>(sizes[p]);
    given += sizes[p];
  }
  std::array<std::size_t, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
  for (std::size_t i = 0; given < n; i = (i + 1) % 3, ++given)
    ++sizes[order[i]];
  return sizes;
}

} // namespace

constexpr enum_name<split_part> part_names[] = {{split_part::train, "train"},
                                                {split_part::validation, "validation"},
                                                {split_part::test, "test"}};

std::string_view to_string(split_part part) {
  return name_of(part_names, part, "unknown");
}

caf::expected<void> validate(const split_spec& spec) {
  const std::array<std::pair<const char*, double>, 3> parts{
      {{"train", spec.train}, {"validation", spec.validation}, {"test", spec.test}}};
  for (const auto& [name, value] : parts)
    if (!std::isfinite(value) || value < 0.0 || value > 1.0)
      return make_llmos_error(error_code::bad_config, std::string{"split fraction '"} + name +
                                                          "' must be within [0, 1], got " +
                                                          std::to_string(value));
  const double sum = spec.train + spec.validation + spec.test;
  if (std::abs(sum - 1.0) > 1e-9)
    return make_llmos_error(error_code::bad_config,
                            "split fractions train + validation + test must sum to 1, got " +
                                std::to_string(spec.train) + " + " +
                                std::to_string(spec.validation) + " + " +
                                std::to_string(spec.test) + " = " + std::to_string(sum));
  return {};
}

caf::expected<std::vector<split_part>> assign_splits(const std::vector<record>& records,
                                                     const split_spec& spec) {
  if (auto ok = validate(spec); !ok)
    return std::move(ok.error());
  std::map<std::string_view, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < records.size(); ++i)
    groups[records[i].label].push_back(i);
  const std::array<double, 3> fractions{spec.train, spec.validation, spec.test};
  std::vector<split_part> out(records.size(), split_part::train);
  for (auto& [label, members] : groups) {
    std::vector<std::tuple<uint64_t, std::string_view, std::size_t>> keyed;
    keyed.reserve(members.size());
    for (std::size_t i : members)
      keyed.emplace_back(order_key(spec.seed, records[i].id), records[i].id, i);
    std::sort(keyed.begin(), keyed.end());
    const auto sizes = part_sizes(keyed.size(), fractions);
    std::size_t pos = 0;
    for (std::size_t p = 0; p < 3; ++p)
      for (std::size_t k = 0; k < sizes[p]; ++k, ++pos)
        out[std::get<2>(keyed[pos])] = static_cast<split_part>(p);
  }
  return out;
}

caf::expected<split_result> split_stratified(std::vector<record> records, const split_spec& spec) {
  auto assignment = assign_splits(records, spec);
  if (!assignment)
    return std::move(assignment.error());
  split_result result;
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto& target = (*assignment)[i] == split_part::train        ? result.train
                   : (*assignment)[i] == split_part::validation ? result.validation
                                                                : result.test;
    target.push_back(std::move(records[i]));
  }
  return result;
}

std::vector<std::string> texts_of(const std::vector<record>& records,
                                  const std::vector<split_part>& assignment, split_part part) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < records.size() && i < assignment.size(); ++i)
    if (assignment[i] == part && !records[i].text.empty())
      out.push_back(records[i].text);
  return out;
}

} // namespace llmos::dataset
