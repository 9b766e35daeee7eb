// Search spaces: samples stay inside their bounds with the right spread (log-uniform around the
// geometric mean, integers whole), per-trial samples are reproducible, and the grid has the
// documented size, values and order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tuner/core/search_space.hpp"

namespace {

using namespace llmos::tuner;

search_space mixed_space() {
  search_space space;
  space.params.push_back(param_spec{"u", param_type::uniform, -1, 2, {}, 0});
  space.params.push_back(param_spec{"lr", param_type::log_uniform, 1e-4, 1e-1, {}, 0});
  space.params.push_back(param_spec{"hidden", param_type::integer, 16, 128, {}, 0});
  space.params.push_back(param_spec{"dim", param_type::choice, 0, 0, {"16", "32", "64"}, 0});
  return space;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

TEST(search_space, samples_stay_in_bounds_and_cover_every_value) {
  const auto space = mixed_space();
  std::mt19937_64 rng{42};
  std::set<long long> hidden_seen;
  std::set<std::string> dims_seen;
  for (int i = 0; i < 2000; ++i) {
    auto point = sample(space, rng);
    ASSERT_EQ(point.size(), 4u);
    const double u = std::stod(point.at("u"));
    EXPECT_GE(u, -1.0);
    EXPECT_LE(u, 2.0);
    const double lr = std::stod(point.at("lr"));
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
    // Integers are written without decimals: integer fields of a model spec refuse "32.0".
    const auto& hidden = point.at("hidden");
    ASSERT_EQ(hidden.find_first_not_of("0123456789"), std::string::npos) << hidden;
    const auto h = std::stoll(hidden);
    EXPECT_GE(h, 16);
    EXPECT_LE(h, 128);
    hidden_seen.insert(h);
    dims_seen.insert(point.at("dim"));
  }
  EXPECT_EQ(dims_seen, (std::set<std::string>{"16", "32", "64"}));
  EXPECT_EQ(*hidden_seen.begin(), 16) << "both ends of an integer range are included";
  EXPECT_EQ(*hidden_seen.rbegin(), 128);
  EXPECT_GT(hidden_seen.size(), 100u);
}

TEST(search_space, log_uniform_median_is_the_geometric_mean) {
  search_space space;
  space.params.push_back(param_spec{"lr", param_type::log_uniform, 1e-4, 1e-1, {}, 0});
  space.params.push_back(param_spec{"u", param_type::uniform, 1e-4, 1e-1, {}, 0});
  std::mt19937_64 rng{1};
  std::vector<double> lr, u;
  for (int i = 0; i < 4001; ++i) {
    auto point = sample(space, rng);
    lr.push_back(std::stod(point.at("lr")));
    u.push_back(std::stod(point.at("u")));
  }
  const double geometric_mean = std::sqrt(1e-4 * 1e-1); // 0.00316
  EXPECT_NEAR(std::log(median(lr)), std::log(geometric_mean), std::log(1.3));
  // The same bounds spread evenly put the median near the middle, 15 times higher.
  EXPECT_NEAR(median(u), (1e-4 + 1e-1) / 2, 0.01);
}

TEST(search_space, trial_samples_are_reproducible_and_distinct) {
  const auto space = mixed_space();
  EXPECT_EQ(sample_nth(space, 3, 0), sample_nth(space, 3, 0));
  EXPECT_NE(sample_nth(space, 3, 0), sample_nth(space, 3, 1));
  EXPECT_NE(sample_nth(space, 3, 0), sample_nth(space, 4, 0));
}

TEST(search_space, values_print_as_overrides) {
  EXPECT_EQ(format_real(0.0012345678), "0.00123457");
  EXPECT_EQ(format_real(0.5), "0.5");
  EXPECT_EQ(format_real(1e-5), "1e-05");
}

TEST(search_space, grid_values_per_type) {
  const param_spec u{"u", param_type::uniform, 0, 1, {}, 0};
  EXPECT_EQ(grid_values(u, 5), (std::vector<std::string>{"0", "0.25", "0.5", "0.75", "1"}));
  EXPECT_EQ(grid_values(u, 1), (std::vector<std::string>{"0.5"}));
  const param_spec lr{"lr", param_type::log_uniform, 1e-4, 1e-1, {}, 0};
  EXPECT_EQ(grid_values(lr, 4), (std::vector<std::string>{"0.0001", "0.001", "0.01", "0.1"}));
  const param_spec narrow{"n", param_type::integer, 1, 2, {}, 0};
  EXPECT_EQ(grid_values(narrow, 3), (std::vector<std::string>{"1", "2"}))
      << "rounded neighbours merge: at most `points` distinct values";
  const param_spec wide{"w", param_type::integer, 16, 128, {}, 0};
  EXPECT_EQ(grid_values(wide, 3), (std::vector<std::string>{"16", "72", "128"}));
  const param_spec c{"c", param_type::choice, 0, 0, {"a", "b", "c", "d"}, 0};
  EXPECT_EQ(grid_values(c, 2).size(), 4u) << "a choice lists every value whatever `points`";
}

TEST(search_space, grid_is_the_product_with_the_first_parameter_slowest) {
  search_space space;
  space.params.push_back(param_spec{"lr", param_type::log_uniform, 1e-4, 1e-2, {}, 0});
  space.params.push_back(param_spec{"c", param_type::choice, 0, 0, {"a", "b"}, 0});
  space.params.push_back(param_spec{"i", param_type::integer, 1, 2, {}, 0});
  const auto points = grid(space, 3);
  ASSERT_EQ(points.size(), 12u);
  EXPECT_EQ(grid_size(space, 3), 12u);
  EXPECT_EQ(points[0], (assignment{{"lr", "0.0001"}, {"c", "a"}, {"i", "1"}}));
  EXPECT_EQ(points[1], (assignment{{"lr", "0.0001"}, {"c", "a"}, {"i", "2"}}));
  EXPECT_EQ(points[2], (assignment{{"lr", "0.0001"}, {"c", "b"}, {"i", "1"}}));
  EXPECT_EQ(points[4], (assignment{{"lr", "0.001"}, {"c", "a"}, {"i", "1"}}));
  EXPECT_EQ(points[11], (assignment{{"lr", "0.01"}, {"c", "b"}, {"i", "2"}}));
  EXPECT_EQ(std::set<assignment>(points.begin(), points.end()).size(), 12u) << "no repeats";
}

TEST(search_space, grid_size_saturates) {
  search_space space;
  for (int i = 0; i < 30; ++i)
    space.params.push_back(param_spec{"p" + std::to_string(i), param_type::uniform, 0, 1, {}, 0});
  EXPECT_EQ(grid_size(space, 100), UINT64_MAX);
}

} // namespace
