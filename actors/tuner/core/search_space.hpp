// The hyper-parameters a study searches over and the two ways of picking points in them: random
// samples and a grid. A point is an `assignment` of text values, written exactly as a model spec
// override takes them ("lr" -> "0.00123", "embed_dim" -> "64"), so that a trial's settings can be
// handed to the model actor as they are and copied by people from the study's report.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace llmos::tuner {

/// How a parameter's values are spread.
enum class param_type : uint8_t {
  uniform,     ///< real in [low, high], evenly
  log_uniform, ///< real in [low, high] (low > 0), evenly in log space: learning rates, decays
  integer,     ///< whole number in [low, high], both ends included
  choice,      ///< one of `choices`, each equally likely
};

/// One searched parameter (see parse_study_spec for how it is written).
struct param_spec {
  std::string name; ///< the model spec override it sets, e.g. "lr"
  param_type type = param_type::uniform;
  double low = 0, high = 0;         ///< bounds of uniform, log_uniform and integer
  std::vector<std::string> choices; ///< values of choice, as written
  int line = 0;                     ///< where it is written in the study file (0 = built in code)
};

/// Parameter name -> value text as a model spec override takes it.
using assignment = std::map<std::string, std::string>;

/// All searched parameters, in the order they are written.
struct search_space {
  std::vector<param_spec> params;
};

/// "uniform", "log_uniform", "integer" or "choice".
std::string to_string(param_type type);

/// One random point of the space drawn from `rng`.
assignment sample(const search_space& space, std::mt19937_64& rng);

/// The point of trial number `n` (0-based) of a study seeded with `seed`: a pure function of
/// (space, seed, n), so a resumed study draws the same points without saving generator state.
assignment sample_nth(const search_space& space, uint64_t seed, uint64_t n);

/// The values of one parameter on a grid of `points` per continuous dimension: evenly spaced
/// from low to high (log-spaced for log_uniform; the middle when points is 1), up to `points`
/// distinct rounded values for integer, every value for choice.
std::vector<std::string> grid_values(const param_spec& param, int points);

/// The cartesian product of grid_values over all parameters; the first parameter varies slowest.
std::vector<assignment> grid(const search_space& space, int points);

/// How many points grid() returns, saturating at UINT64_MAX, without building them.
uint64_t grid_size(const search_space& space, int points);

/// A real value as override text: six significant digits, enough to tell trials apart and short
/// enough to read ("0.00123457").
std::string format_real(double value);

} // namespace llmos::tuner
