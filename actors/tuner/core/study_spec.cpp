#include "tuner/core/study_spec.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos::tuner {

using namespace yaml_fields;

namespace {

const std::vector<std::string> study_keys{
    "study",       "model",    "dataset",      "algorithm",    "metric",
    "mode",        "trials",   "min_resource", "max_resource", "reduction",
    "grid_points", "parallel", "seed",         "overrides",    "space"};
const std::vector<std::string> param_keys{"type", "low", "high", "values"};
// In the order of the enums they index.
const std::vector<std::string> algorithm_words{"random", "grid", "asha", "hyperband"};
const std::vector<std::string> mode_words{"max", "min"};
const std::vector<std::string> type_words{"uniform", "log_uniform", "integer", "choice"};

/// A grid this large is a mistake (three values of eight parameters are 6561 trials already).
constexpr uint64_t max_grid_points = 10'000;

/// Index of `word` in `words`, refusing other words with a did-you-mean.
std::size_t read_word(const entry& e, const std::string& field,
                      const std::vector<std::string>& words) {
  const auto text = read_string(e);
  for (std::size_t i = 0; i < words.size(); ++i)
    if (words[i] == text)
      return i;
  const auto match = closest_match(text, words);
  refuse(e.line, field + ": '" + text + "' is not one of " + join_words(words) +
                     (match.empty() ? "" : "; did you mean '" + match + "'?"));
}

/// A finite number; `hint` says what it means.
double read_number(const entry& e, const std::string& field, const std::string& hint) {
  const auto text = read_string(e);
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || stop != end || !std::isfinite(value))
    refuse(e.line, field + ": '" + text + "' is not a number; " + hint);
  return value;
}

/// A study name: [a-z0-9-]+, since it names runs, files and metrics labels.
std::string read_study_name(const entry& e) {
  const auto name = read_string(e);
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!ok)
    refuse(e.line, "study: '" + name +
                       "' is not a study name; use lower-case letters, digits and '-', e.g. "
                       "spam-lr (it names the study's runs and saved state)");
  return name;
}

const entry& require(const entries& fields, const std::string& key, const std::string& what) {
  const auto* e = get(fields, key);
  if (e == nullptr)
    refuse(1, key + ": missing; " + what);
  return *e;
}

std::vector<std::string> read_choices(const entry& e, const std::string& field) {
  if (!e.value.IsSequence() || e.value.size() == 0)
    refuse(e.line, field + ": must be a non-empty list of values, e.g. [16, 32, 64], but it is " +
                       (e.value.IsSequence() ? std::string("an empty list") : kind_of(e.value)));
  std::vector<std::string> choices;
  for (const auto& v : e.value) {
    if (!v.IsScalar())
      refuse(line_of(v), field +
                             ": each value is a single value as a model spec override takes "
                             "it, but one is " +
                             kind_of(v));
    if (std::find(choices.begin(), choices.end(), v.Scalar()) != choices.end())
      refuse(line_of(v), field + ": '" + v.Scalar() + "' is listed twice; keep one");
    choices.push_back(v.Scalar());
  }
  return choices;
}

param_spec read_param(const YAML::Node& key, const YAML::Node& value) {
  param_spec p;
  p.line = line_of(key);
  p.name = key.IsScalar() ? key.Scalar() : std::string{};
  if (!is_valid_name(p.name))
    refuse(p.line, "space: '" + p.name +
                       "' is not a parameter name; write the model spec override it sets, "
                       "e.g. lr or embed_dim");
  const std::string field = "space." + p.name;
  if (!value.IsMap())
    refuse(p.line, field +
                       ": must be a map such as {type: uniform, low: 0, high: 0.5} or "
                       "{type: choice, values: [16, 32]}, but it is " +
                       kind_of(value));
  const auto fields = read_map(value, param_keys, field);
  const auto* type = get(fields, "type");
  if (type == nullptr)
    refuse(p.line, field + ".type: missing; write one of " + join_words(type_words));
  p.type = static_cast<param_type>(read_word(*type, field + ".type", type_words));
  const auto* low = get(fields, "low");
  const auto* high = get(fields, "high");
  const auto* values = get(fields, "values");
  if (p.type == param_type::choice) {
    if (values == nullptr)
      refuse(p.line, field + ".values: missing; a choice lists its values, e.g. [16, 32, 64]");
    for (const auto* bound : {low, high})
      if (bound != nullptr)
        refuse(bound->line, field + "." + bound->key +
                                ": does not apply to a choice; list the options under 'values'");
    p.choices = read_choices(*values, field + ".values");
    return p;
  }
  if (values != nullptr)
    refuse(values->line, field +
                             ".values: applies only to type choice; give 'low' and 'high' "
                             "for a " +
                             to_string(p.type) + " parameter");
  for (const auto& [bound, key] : {std::pair{low, "low"}, {high, "high"}})
    if (bound == nullptr)
      refuse(p.line, field + "." + key + ": missing; a " + to_string(p.type) +
                         " parameter needs both 'low' and 'high'");
  const std::string hint = "write a bound such as 0.5 or 1e-4";
  p.low = read_number(*low, field + ".low", hint);
  p.high = read_number(*high, field + ".high", hint);
  if (p.low >= p.high)
    refuse(high->line, field + ".high: " + read_string(*high) + " is not above low (" +
                           read_string(*low) + "); the range must not be empty");
  if (p.type == param_type::log_uniform && p.low <= 0)
    refuse(low->line, field + ".low: " + read_string(*low) +
                          " must be above 0 for log_uniform (a log scale never reaches 0); "
                          "use e.g. 1e-5, or type uniform");
  if (p.type == param_type::integer)
    for (const auto& [bound, value] : {std::pair{low, p.low}, {high, p.high}})
      if (std::floor(value) != value)
        refuse(bound->line, field + "." + bound->key + ": " + read_string(*bound) +
                                " is not a whole number; an integer parameter's bounds are "
                                "whole numbers, both included");
  return p;
}

search_space read_space(const entry& e) {
  if (!e.value.IsMap() || e.value.size() == 0)
    refuse(e.line, "space: must list at least one parameter, e.g. 'lr: {type: log_uniform, low: "
                   "0.0001, high: 0.1}', but it is " +
                       kind_of(e.value));
  search_space space;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    auto p = read_param(it->first, it->second);
    for (const auto& q : space.params)
      if (q.name == p.name)
        refuse(p.line, "space." + p.name + ": appears twice (also at line " +
                           std::to_string(q.line) + "); keep one");
    space.params.push_back(std::move(p));
  }
  return space;
}

std::map<std::string, std::string> read_overrides(const entry& e, const search_space& space) {
  if (!e.value.IsMap())
    refuse(e.line, "overrides: must be a map of field: value, e.g. {batch_size: 32}, but it is " +
                       kind_of(e.value));
  std::map<std::string, std::string> overrides;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const int line = line_of(it->first);
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
    if (!is_valid_name(key) || !it->second.IsScalar())
      refuse(line, "overrides: each entry is 'field: value' with a single value, as on the "
                   "command line (quote a list: conv_channels: \"[16, 32]\")");
    for (const auto& p : space.params)
      if (p.name == key)
        refuse(line, "overrides." + key + ": is also searched in space (line " +
                         std::to_string(p.line) + "); fix it here or search it, not both");
    if (!overrides.emplace(key, it->second.Scalar()).second)
      refuse(line, "overrides." + key + ": appears twice; keep one");
  }
  return overrides;
}

int read_int(const entries& fields, const std::string& key, int lo, int hi, int fallback,
             const std::string& hint) {
  const auto* e = get(fields, key);
  return e == nullptr ? fallback : static_cast<int>(read_unsigned(*e, lo, hi, hint));
}

/// max_resource and min_resource (by default a ninth of the full budget for reduction 3:
/// three rungs).
void read_budget(const entries& fields, study_spec& s) {
  const auto& max_entry = require(fields, "max_resource",
                                  "give the training steps of a full "
                                  "trial, e.g. 'max_resource: 300'");
  s.max_resource = static_cast<double>(
      read_unsigned(max_entry, 1, uint64_t{1} << 40, "the training steps of a full trial"));
  s.min_resource = std::max(1.0, std::floor(s.max_resource / (s.reduction * s.reduction)));
  if (const auto* e = get(fields, "min_resource")) {
    s.min_resource = static_cast<double>(
        read_unsigned(*e, 1, uint64_t{1} << 40, "the training steps of the first rung"));
    if (s.min_resource > s.max_resource)
      refuse(e->line, "min_resource: " + read_string(*e) + " is more than max_resource (" +
                          read_string(max_entry) + ", line " + std::to_string(max_entry.line) +
                          "); the first rung cannot train longer than a full trial");
  }
}

/// A grid search's size stays within max_grid_points.
void check_grid(const entries& fields, const study_spec& s) {
  if (s.algorithm == algorithm_kind::grid) {
    const auto size = grid_size(s.space, s.grid_points);
    if (size > max_grid_points) {
      const auto* e = get(fields, "grid_points");
      refuse(e ? e->line : get(fields, "algorithm")->line,
             (e ? "grid_points" : "algorithm") + std::string(": the grid has ") +
                 (size == UINT64_MAX ? std::string("too many") : std::to_string(size)) +
                 " points, more than " + std::to_string(max_grid_points) +
                 "; lower grid_points, narrow the space or use algorithm: random");
    }
  }
}

study_spec read_study(const YAML::Node& root) {
  if (!root.IsMap())
    refuse(line_of(root), "study: a study file is a map with 'study:', 'model:', 'dataset:', "
                          "'max_resource:' and 'space:'");
  const auto fields = read_map(root, study_keys, "a study file");
  study_spec s;
  s.name = read_study_name(require(fields, "study", "name the study, e.g. 'study: spam-lr'"));
  s.model = read_string(require(fields, "model",
                                "give the model spec the trials train, e.g. "
                                "'model: nodes/examples/models/spam-bag.yaml'"));
  s.dataset = read_name(require(fields, "dataset", "name the dataset actor, e.g. 'dataset: spam'"));
  if (const auto* e = get(fields, "algorithm"))
    s.algorithm = static_cast<algorithm_kind>(read_word(*e, "algorithm", algorithm_words));
  if (const auto* e = get(fields, "metric")) {
    s.metric = trim(read_string(*e));
    if (s.metric.empty())
      refuse(e->line, "metric: is empty; name a key of the evaluation, e.g. accuracy or loss");
  }
  if (const auto* e = get(fields, "mode"))
    s.mode = static_cast<objective_mode>(read_word(*e, "mode", mode_words));
  if (const auto* e = get(fields, "trials"))
    s.trials = read_unsigned(*e, 1, 100'000, "the most trials the study starts");
  if (const auto* e = get(fields, "seed"))
    s.seed = read_unsigned(*e, 0, UINT64_MAX, "any whole number; the same seed, the same study");
  s.reduction = read_int(fields, "reduction", 2, 100, 3,
                         "a rung keeps the best 1/reduction of its trials, so at least 2");
  s.grid_points = read_int(fields, "grid_points", 1, 100, 3, "values per continuous dimension");
  s.parallel = read_int(fields, "parallel", 1, 1024, 1, "trials running at once");
  read_budget(fields, s);
  s.space = read_space(require(fields, "space",
                               "list the parameters to search, e.g. "
                               "'space: {lr: {type: log_uniform, low: 0.0001, "
                               "high: 0.1}}'"));
  if (const auto* e = get(fields, "overrides"))
    s.overrides = read_overrides(*e, s.space);
  check_grid(fields, s);
  return s;
}

} // namespace

caf::expected<study_spec> parse_study_spec(const std::string& text, const std::string& file) {
  return yaml_fields::parse_guarded(text, file,
                                    [](const YAML::Node& root) { return read_study(root); });
}

caf::expected<study_spec> load_study_spec(const std::string& path) {
  return yaml_fields::load_file(path, "study", parse_study_spec);
}

std::string to_string(algorithm_kind algorithm) {
  return algorithm_words.at(static_cast<std::size_t>(algorithm));
}

std::string to_string(objective_mode mode) {
  return mode_words.at(static_cast<std::size_t>(mode));
}

bool is_better(objective_mode mode, double a, double b) {
  return mode == objective_mode::max ? a > b : a < b;
}

} // namespace llmos::tuner
