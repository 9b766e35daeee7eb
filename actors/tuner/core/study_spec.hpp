// A study: which model spec to train on which dataset, which hyper-parameters to search and how
// (random, grid, ASHA or Hyperband), which evaluation metric to optimise and how much training a
// trial may get. People write it as a YAML file, so every refusal names the file, the line and
// the field, with a did-you-mean for misspelt keys and words; a study that loads is one every
// searcher can run without further checks.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <caf/expected.hpp>

#include "tuner/core/search_space.hpp"

namespace llmos::tuner {

/// How a study picks trials and how much it trains each.
enum class algorithm_kind : uint8_t {
  random,    ///< `trials` random points, each trained to max_resource
  grid,      ///< every grid point, each trained to max_resource
  asha,      ///< asynchronous successive halving from min_resource up to max_resource
  hyperband, ///< ASHA brackets started at min_resource * reduction^s, trials round-robin
};

/// Whether a larger or a smaller metric is better.
enum class objective_mode : uint8_t { max, min };

/// One study (see parse_study_spec for the file format).
struct study_spec {
  std::string name;    ///< [a-z0-9-]+: names the study's runs and its saved state
  std::string model;   ///< path of the model spec the trials train
  std::string dataset; ///< name of the dataset actor the trials train on
  algorithm_kind algorithm = algorithm_kind::asha;
  std::string metric = "accuracy"; ///< key of the objective in the evaluation JSON
  objective_mode mode = objective_mode::max;
  uint64_t trials = 20;    ///< most trials started (random, asha, hyperband)
  double min_resource = 0; ///< training steps of the first rung (asha, hyperband)
  double max_resource = 0; ///< training steps of a full trial
  int reduction = 3;       ///< eta: a rung keeps the best 1/reduction of its trials
  int grid_points = 3;     ///< values per continuous dimension (grid)
  int parallel = 1;        ///< trials running at once
  uint64_t seed = 1;       ///< every random choice of the study follows from it
  std::map<std::string, std::string> overrides; ///< fixed model spec overrides of every trial
  search_space space;
};

/// Parses a study file:
///   study: spam-lr                # required name ([a-z0-9-]+)
///   model: nodes/examples/models/spam-bag.yaml  # required: the model spec the trials train
///   dataset: spam                 # required: the dataset actor's name
///   algorithm: asha               # random | grid | asha | hyperband (default asha)
///   metric: accuracy              # key in the evaluation JSON (default accuracy)
///   mode: max                     # max | min (default max)
///   trials: 27                    # most trials started (default 20); grid ignores it
///   min_resource: 20              # steps of the first rung (default max_resource/reduction^2)
///   max_resource: 180             # required: steps of a full trial
///   reduction: 3                  # eta, 2..100 (default 3)
///   grid_points: 3                # values per continuous dimension (default 3)
///   parallel: 2                   # trials running at once (default 1)
///   seed: 1                       # (default 1)
///   overrides: {batch_size: 32}   # fixed model spec overrides of every trial (optional)
///   space:                        # required, non-empty; one line per parameter
///     lr: {type: log_uniform, low: 0.0001, high: 0.1}
///     dim: {type: choice, values: [16, 32, 64]}
///     dropout: {type: uniform, low: 0, high: 0.5}
///     hidden: {type: integer, low: 16, high: 128}
/// `file` names the file in messages; errors (bad_config) read "FILE:LINE: FIELD: what; fix".
caf::expected<study_spec> parse_study_spec(const std::string& text, const std::string& file);

/// Reads the file at `path` and parses it.
caf::expected<study_spec> load_study_spec(const std::string& path);

/// "random", "grid", "asha" or "hyperband".
std::string to_string(algorithm_kind algorithm);

/// "max" or "min".
std::string to_string(objective_mode mode);

/// Whether `a` is a better objective than `b` under `mode` (false for equal values).
bool is_better(objective_mode mode, double a, double b);

} // namespace llmos::tuner
