// Parsing study files: a full file with every field, the defaults, and a refusal for each kind
// of mistake that names the file, the line and the field.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "tuner/core/study_spec.hpp"

namespace {

using namespace llmos::tuner;

const char* const full_file = R"(# learning rate and width of the spam baseline
study: spam-lr
model: nodes/examples/models/spam-bag.yaml
dataset: spam
algorithm: hyperband
metric: loss
mode: min
trials: 27
min_resource: 20
max_resource: 180
reduction: 3
grid_points: 4
parallel: 2
seed: 11
overrides: {batch_size: 32, optimizer: adamw}
space:
  lr: {type: log_uniform, low: 0.0001, high: 0.1}
  dim: {type: choice, values: [16, 32, 64]}
  dropout: {type: uniform, low: 0, high: 0.5}
  hidden: {type: integer, low: 16, high: 128}
)";

/// A minimal valid study with `extra` lines inserted before `space:` (line 5 onwards).
std::string study_with(const std::string& extra,
                       const std::string& space = "  lr: {type: log_uniform, low: 0.0001, high: "
                                                  "0.1}\n") {
  return "study: s\nmodel: m.yaml\ndataset: d\nmax_resource: 180\n" + extra + "space:\n" + space;
}

/// The error text of parsing `text` as f.yaml; "" when it parses.
std::string refusal_of(const std::string& text) {
  auto spec = parse_study_spec(text, "f.yaml");
  return spec ? std::string{} : llmos::describe(spec.error());
}

TEST(study_spec, parses_every_field) {
  auto spec = parse_study_spec(full_file, "study.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_EQ(spec->name, "spam-lr");
  EXPECT_EQ(spec->model, "nodes/examples/models/spam-bag.yaml");
  EXPECT_EQ(spec->dataset, "spam");
  EXPECT_EQ(spec->algorithm, algorithm_kind::hyperband);
  EXPECT_EQ(spec->metric, "loss");
  EXPECT_EQ(spec->mode, objective_mode::min);
  EXPECT_EQ(spec->trials, 27u);
  EXPECT_EQ(spec->min_resource, 20.0);
  EXPECT_EQ(spec->max_resource, 180.0);
  EXPECT_EQ(spec->reduction, 3);
  EXPECT_EQ(spec->grid_points, 4);
  EXPECT_EQ(spec->parallel, 2);
  EXPECT_EQ(spec->seed, 11u);
  EXPECT_EQ(spec->overrides,
            (std::map<std::string, std::string>{{"batch_size", "32"}, {"optimizer", "adamw"}}));
  const auto& params = spec->space.params;
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].name, "lr") << "parameters keep the file's order";
  EXPECT_EQ(params[0].type, param_type::log_uniform);
  EXPECT_EQ(params[0].low, 0.0001);
  EXPECT_EQ(params[0].high, 0.1);
  EXPECT_EQ(params[0].line, 17);
  EXPECT_EQ(params[1].name, "dim");
  EXPECT_EQ(params[1].type, param_type::choice);
  EXPECT_EQ(params[1].choices, (std::vector<std::string>{"16", "32", "64"}));
  EXPECT_EQ(params[2].type, param_type::uniform);
  EXPECT_EQ(params[3].type, param_type::integer);
  EXPECT_EQ(params[3].line, 20);
}

TEST(study_spec, defaults) {
  auto spec = parse_study_spec(study_with(""), "f.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_EQ(spec->algorithm, algorithm_kind::asha);
  EXPECT_EQ(spec->metric, "accuracy");
  EXPECT_EQ(spec->mode, objective_mode::max);
  EXPECT_EQ(spec->trials, 20u);
  EXPECT_EQ(spec->reduction, 3);
  EXPECT_EQ(spec->min_resource, 20.0) << "max_resource / reduction^2";
  EXPECT_EQ(spec->grid_points, 3);
  EXPECT_EQ(spec->parallel, 1);
  EXPECT_EQ(spec->seed, 1u);
  EXPECT_TRUE(spec->overrides.empty());
}

TEST(study_spec, refusals_name_file_line_and_field) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {study_with("algoritm: asha\n"), "f.yaml:5: unknown key 'algoritm'; did you mean "
                                       "'algorithm'?"},
      {study_with("algorithm: ahsa\n"), "f.yaml:5: algorithm: 'ahsa' is not one of random, "
                                        "grid, asha, hyperband; did you mean 'asha'?"},
      {study_with("mode: mx\n"), "f.yaml:5: mode: 'mx' is not one of max, min; did you mean "
                                 "'max'?"},
      {study_with("reduction: 1\n"), "f.yaml:5: 'reduction' is 1, out of range"},
      {study_with("trials: 0\n"), "f.yaml:5: 'trials' is 0, out of range"},
      {study_with("min_resource: 200\n"),
       "f.yaml:5: min_resource: 200 is more than max_resource (180, line 4)"},
      {study_with("overrides: {lr: 0.1}\n"),
       "f.yaml:5: overrides.lr: is also searched in space (line 7)"},
      {study_with("", "  lr: {type: log_uniform, low: 0.1, high: 0.001}\n"),
       "f.yaml:6: space.lr.high: 0.001 is not above low (0.1)"},
      {study_with("", "  lr: {type: log_uniform, low: 0, high: 0.1}\n"),
       "f.yaml:6: space.lr.low: 0 must be above 0 for log_uniform"},
      {study_with("", "  dim: {type: choice, values: []}\n"),
       "f.yaml:6: space.dim.values: must be a non-empty list of values"},
      {study_with("", "  dim: {type: choice, values: [1, 2, 1]}\n"),
       "f.yaml:6: space.dim.values: '1' is listed twice"},
      {study_with("", "  dim: {type: choice, low: 1, values: [1]}\n"),
       "f.yaml:6: space.dim.low: does not apply to a choice"},
      {study_with("", "  x: {type: uniform, lwo: 0, high: 1}\n"),
       "f.yaml:6: unknown key 'lwo'; did you mean 'low'? (known keys in space.x:"},
      {study_with("", "  x: {type: unifrom, low: 0, high: 1}\n"),
       "f.yaml:6: space.x.type: 'unifrom' is not one of uniform, log_uniform, integer, choice; "
       "did you mean 'uniform'?"},
      {study_with("", "  x: {low: 0, high: 1}\n"), "f.yaml:6: space.x.type: missing"},
      {study_with("", "  x: {type: uniform, high: 1}\n"), "f.yaml:6: space.x.low: missing"},
      {study_with("", "  x: {type: uniform, low: abc, high: 1}\n"),
       "f.yaml:6: space.x.low: 'abc' is not a number"},
      {study_with("", "  x: {type: uniform, low: 0, high: 1, values: [1]}\n"),
       "f.yaml:6: space.x.values: applies only to type choice"},
      {study_with("", "  h: {type: integer, low: 1.5, high: 8}\n"),
       "f.yaml:6: space.h.low: 1.5 is not a whole number"},
      {study_with("", "  x: [0, 1]\n"), "f.yaml:6: space.x: must be a map"},
      {study_with("", "  lr: {type: uniform, low: 0, high: 1}\n  lr: {type: choice, values: "
                      "[1]}\n"),
       "f.yaml:7: space.lr: appears twice (also at line 6)"},
      {study_with("algorithm: grid\ngrid_points: 100\n",
                  "  a: {type: uniform, low: 0, high: 1}\n  b: {type: uniform, low: 0, high: "
                  "1}\n  c: {type: uniform, low: 0, high: 1}\n"),
       "f.yaml:6: grid_points: the grid has 1000000 points, more than 10000"},
      {"study: Spam_LR\nmodel: m\ndataset: d\nmax_resource: 9\nspace: {x: {type: uniform, "
       "low: 0, high: 1}}\n",
       "f.yaml:1: study: 'Spam_LR' is not a study name"},
      {"model: m\ndataset: d\nmax_resource: 9\nspace: {x: {type: uniform, low: 0, high: 1}}\n",
       "f.yaml:1: study: missing"},
      {"study: s\nmodel: m\ndataset: d\nspace: {x: {type: uniform, low: 0, high: 1}}\n",
       "f.yaml:1: max_resource: missing"},
      {"study: s\nmodel: m\ndataset: d\nmax_resource: 9\n", "f.yaml:1: space: missing"},
      {"study: s\nmodel: m\ndataset: d\nmax_resource: 9\nspace: {}\n",
       "f.yaml:5: space: must list at least one parameter"},
      {"study: s\nmodel: m\n  dataset: [\n", "f.yaml:3: YAML syntax error"},
  };
  for (const auto& [text, expected] : cases) {
    const auto got = refusal_of(text);
    EXPECT_EQ(got.rfind("bad_config: " + expected, 0), 0u)
        << "expected: " << expected << "\ngot:      " << got << "\nfor:\n"
        << text;
  }
}

TEST(study_spec, load_names_a_missing_file) {
  auto spec = load_study_spec("/nonexistent/study.yaml");
  ASSERT_FALSE(spec);
  EXPECT_EQ(llmos::describe(spec.error()),
            "bad_config: /nonexistent/study.yaml: cannot read the study file; check the path");
}

TEST(study_spec, objective_direction) {
  EXPECT_TRUE(is_better(objective_mode::max, 0.9, 0.8));
  EXPECT_FALSE(is_better(objective_mode::max, 0.8, 0.8));
  EXPECT_TRUE(is_better(objective_mode::min, 0.1, 0.8));
}

} // namespace
