#include "feedback/core/loop_policy.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos::feedback {

using namespace yaml_fields;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> top_keys{"model",    "server",   "registry", "scheduler", "alias",
                                        "triggers", "finetune", "evaluate", "canary"};
const std::vector<std::string> trigger_keys{"min_corrections", "accuracy_below", "min_labelled",
                                            "psi_above",       "window",         "cooldown_s"};
const std::vector<std::string> finetune_keys{"dataset", "spec",      "steps",          "lr",
                                             "holdout", "timeout_s", "feedback_weight"};
const std::vector<std::string> evaluate_keys{"margin", "max_heldout_drop"};
const std::vector<std::string> canary_keys{"share", "min_labelled", "margin", "max_s"};

/// A section's keys, each renamed to its dotted path ("triggers.window") so that every refusal
/// names the field the way people find it in the file. A missing or empty section has none.
entries read_section(const entries& top, const std::string& name,
                     const std::vector<std::string>& known) {
  const auto* e = get(top, name);
  if (e == nullptr || e->value.IsNull())
    return {};
  if (!e->value.IsMap())
    refuse(e->line, name + ": must be a map of settings (keys: " + join_words(known) +
                        "), but it is " + kind_of(e->value));
  auto fields = read_map(e->value, known, name);
  for (auto& [key, field] : fields)
    field.key = name + "." + key;
  return fields;
}

/// A finite number that `ok` accepts; `range` says which ones it does, `hint` what it means.
double read_real(const entry& e, const std::function<bool(double)>& ok, const std::string& range,
                 const std::string& hint) {
  const auto text = read_string(e);
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || stop != end || !std::isfinite(value))
    refuse(e.line, e.key + ": '" + text + "' is not a number; write " + range + ", " + hint);
  if (!ok(value))
    refuse(e.line, e.key + ": " + text + " is out of range; write " + range + ", " + hint);
  return value;
}

/// A whole number in [lo, hi].
uint64_t read_count(const entry& e, uint64_t lo, uint64_t hi, const std::string& hint) {
  const auto text = read_string(e);
  uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || stop != end || value < lo || value > hi)
    refuse(e.line, e.key + ": '" + text + "' is not a whole number from " + std::to_string(lo) +
                       " to " + std::to_string(hi) + "; " + hint);
  return value;
}

/// A file path, relative ones taken from the policy file's folder; the file must exist.
std::string read_path(const entry& e, const fs::path& folder, const std::string& what) {
  const auto text = trim(read_string(e));
  if (text.empty())
    refuse(e.line, e.key + ": is empty; give the " + what);
  const fs::path given{text};
  const fs::path resolved = given.is_absolute() || folder.empty() ? given : folder / given;
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec))
    refuse(e.line, e.key + ": '" + resolved.string() + "' is not a file; give the " + what +
                       " as an absolute path or one relative to the policy file's folder");
  return resolved.lexically_normal().string();
}

/// The entry of `key`; `field` names it in the refusal, given at `line` when it is missing.
const entry& require(const entries& fields, const std::string& key, const std::string& field,
                     int line, const std::string& what) {
  const auto* e = get(fields, key);
  if (e == nullptr)
    refuse(line, field + ": missing; " + what);
  return *e;
}

const auto non_negative = [](double v) { return v >= 0; };
const auto positive = [](double v) { return v > 0; };
const auto unit_range = [](double v) { return v >= 0 && v <= 1; };
const auto margin_range = [](double v) { return v >= -1 && v <= 1; };

trigger_policy read_triggers(const entries& top) {
  trigger_policy t;
  const auto f = read_section(top, "triggers", trigger_keys);
  const uint64_t big = 1'000'000'000;
  if (const auto* e = get(f, "min_corrections"))
    t.min_corrections = read_count(*e, 0, big, "corrected labels that start a round (0 = off)");
  if (const auto* e = get(f, "accuracy_below"))
    t.accuracy_below = read_real(*e, unit_range, "a number from 0 to 1",
                                 "the window accuracy below which a round starts (0 = off)");
  if (const auto* e = get(f, "min_labelled"))
    t.min_labelled = read_count(*e, 1, big, "labelled outcomes before accuracy is judged");
  if (const auto* e = get(f, "psi_above"))
    t.psi_above = read_real(*e, non_negative, "0 or more",
                            "the input drift PSI above which a round starts, e.g. 0.25 (0 = off)");
  if (const auto* e = get(f, "window"))
    t.window = read_count(*e, 1, 1'000'000, "recent requests and outcomes the analysis keeps");
  if (const auto* e = get(f, "cooldown_s"))
    t.cooldown_s = read_real(*e, non_negative, "0 or more", "seconds of quiet after a round");
  return t;
}

finetune_policy read_finetune(const entries& top, const fs::path& folder) {
  const auto* section = get(top, "finetune");
  if (section == nullptr)
    refuse(1, "finetune: missing; say how the candidate is trained, at least "
              "'finetune: {dataset: spam-early, spec: model.yaml}'");
  finetune_policy p;
  const auto f = read_section(top, "finetune", finetune_keys);
  p.dataset = read_name(require(f, "dataset", "finetune.dataset", section->line,
                                "name the data set actor that holds the original training data"));
  p.spec = read_path(require(f, "spec", "finetune.spec", section->line, "give the model spec file"),
                     folder, "model spec file");
  if (const auto* e = get(f, "steps"))
    p.steps = read_count(*e, 1, 1'000'000'000, "training steps of a fine-tune");
  if (const auto* e = get(f, "lr"))
    p.lr = read_real(*e, non_negative, "0 or more", "the learning rate (0 = the spec's)");
  if (const auto* e = get(f, "holdout"))
    p.holdout = read_real(
        *e, [](double v) { return v >= 0 && v <= 0.9; }, "a number from 0 to 0.9",
        "the share of corrections kept out of training to evaluate on");
  if (const auto* e = get(f, "timeout_s"))
    p.timeout_s = read_real(*e, positive, "a number above 0", "seconds a fine-tune may take");
  if (const auto* e = get(f, "feedback_weight"))
    p.feedback_weight = static_cast<uint32_t>(
        read_count(*e, 1, 100, "copies of each labelled feedback record in the training data"));
  return p;
}

evaluate_policy read_evaluate(const entries& top) {
  evaluate_policy p;
  const auto f = read_section(top, "evaluate", evaluate_keys);
  if (const auto* e = get(f, "margin"))
    p.margin = read_real(*e, margin_range, "a number from -1 to 1",
                         "how much the candidate must beat production by on the feedback "
                         "hold-out");
  if (const auto* e = get(f, "max_heldout_drop"))
    p.max_heldout_drop = read_real(*e, unit_range, "a number from 0 to 1",
                                   "how much accuracy on the original held-out data it may lose");
  return p;
}

canary_policy read_canary(const entries& top) {
  canary_policy p;
  const auto f = read_section(top, "canary", canary_keys);
  if (const auto* e = get(f, "share"))
    p.share = read_real(
        *e, [](double v) { return v > 0 && v < 1; }, "a number above 0 and below 1",
        "the share of traffic the canary gets, e.g. 0.2");
  if (const auto* e = get(f, "min_labelled"))
    p.min_labelled = read_count(*e, 1, 1'000'000'000, "labelled canary outcomes before judging");
  if (const auto* e = get(f, "margin"))
    p.margin = read_real(*e, margin_range, "a number from -1 to 1",
                         "how much the canary's accuracy must exceed production's by");
  if (const auto* e = get(f, "max_s"))
    p.max_s = read_real(*e, positive, "a number above 0",
                        "seconds before the canary is judged or rolled back");
  return p;
}

loop_policy read_policy(const YAML::Node& root, const std::string& file) {
  if (!root.IsMap())
    refuse(line_of(root), "a loop policy is a map with at least 'model:', 'server:' and "
                          "'finetune:'");
  const auto top = read_map(root, top_keys, "a loop policy");
  loop_policy p;
  p.file = file;
  p.model = read_name(
      require(top, "model", "model", 1, "name the registry model, e.g. 'model: spam-bag'"));
  p.server = read_name(require(top, "server", "server", 1,
                               "name the server actor that runs canaries, e.g. "
                               "'server: spam-serve'"));
  if (const auto* e = get(top, "registry"))
    p.registry = read_name(*e);
  if (const auto* e = get(top, "scheduler"))
    p.scheduler = read_name(*e);
  if (const auto* e = get(top, "alias"))
    p.alias = read_name(*e);
  p.triggers = read_triggers(top);
  p.finetune = read_finetune(top, fs::path(file).parent_path());
  p.evaluate = read_evaluate(top);
  p.canary = read_canary(top);
  return p;
}

} // namespace

caf::expected<loop_policy> parse_loop_policy(const std::string& yaml_text,
                                             const std::string& file) {
  return yaml_fields::parse_guarded(
      yaml_text, file, [&](const YAML::Node& root) { return read_policy(root, file); });
}

caf::expected<loop_policy> load_loop_policy(const std::string& path) {
  return yaml_fields::load_file(path, "loop policy", parse_loop_policy);
}

} // namespace llmos::feedback
