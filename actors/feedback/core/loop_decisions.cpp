#include "feedback/core/loop_decisions.hpp"

#include <cstdio>
#include <utility>

#include <xxhash.h>

namespace llmos::feedback {

namespace {

/// Comparisons forgive rounding: 0.78 + 0.02 must count as reaching 0.80.
constexpr double tolerance = 1e-9;

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

/// `a` and `b` with two decimals, or more when two would show them equal (0.899 < 0.9 must not
/// read "0.90 < 0.90").
std::pair<std::string, std::string> shown(double a, double b) {
  for (int digits = 2; digits < 6; ++digits) {
    auto pair = std::pair{fixed(a, digits), fixed(b, digits)};
    if (pair.first != pair.second)
      return pair;
  }
  return {fixed(a, 6), fixed(b, 6)};
}

std::string signed_fixed(double x) {
  return (x >= 0 ? "+" : "") + fixed(x, 2);
}

} // namespace

std::optional<std::string> should_trigger(const trigger_policy& policy, const trigger_input& in) {
  if (policy.min_corrections > 0 && in.corrections_since_round >= policy.min_corrections)
    return std::to_string(in.corrections_since_round) + " corrections since the last round " +
           "(threshold " + std::to_string(policy.min_corrections) + ")";
  if (policy.accuracy_below > 0 && in.labelled >= policy.min_labelled &&
      in.window_accuracy < policy.accuracy_below) {
    const auto [acc, threshold] = shown(in.window_accuracy, policy.accuracy_below);
    return std::string{in.ratings ? "thumbs-up share " : "window accuracy "} + acc + " < " +
           threshold + " over " + std::to_string(in.labelled) +
           (in.ratings ? " rated" : " labelled");
  }
  if (policy.psi_above > 0 && in.input_psi > policy.psi_above) {
    const auto [psi, threshold] = shown(in.input_psi, policy.psi_above);
    return "input drift PSI " + psi + " > " + threshold;
  }
  return std::nullopt;
}

verdict judge_candidate(const evaluate_policy& policy, double cand_feedback, double prod_feedback,
                        double cand_heldout, double prod_heldout) {
  const auto [cf, pf] = shown(cand_feedback, prod_feedback);
  const auto [ch, ph] = shown(cand_heldout, prod_heldout);
  const std::string numbers = "feedback hold-out " + cf + " vs production " + pf + " (needs " +
                              signed_fixed(policy.margin) + "), original held-out " + ch + " vs " +
                              ph + " (may drop " + fixed(policy.max_heldout_drop, 2) + ")";
  if (cand_feedback + tolerance < prod_feedback + policy.margin)
    return {verdict::stop, "candidate rejected: it does not beat production on the feedback "
                           "hold-out by the margin; " +
                               numbers};
  if (cand_heldout + tolerance < prod_heldout - policy.max_heldout_drop)
    return {verdict::stop, "candidate rejected: it loses too much on the original held-out "
                           "data; " +
                               numbers};
  return {verdict::go, "candidate goes to canary; " + numbers};
}

verdict judge_canary(const canary_policy& policy, uint64_t canary_labelled, double canary_accuracy,
                     uint64_t prod_labelled, double prod_accuracy, double elapsed_s, bool ratings) {
  const std::string unit = ratings ? " rated" : " labelled";
  const std::string measure = ratings ? "thumbs-up share " : "accuracy ";
  const std::string counts = std::to_string(canary_labelled) + " of " +
                             std::to_string(policy.min_labelled) + unit + " canary outcomes, " +
                             std::to_string(prod_labelled) + " of production";
  // Without production outcomes there is nothing to compare the canary's accuracy with.
  if (canary_labelled < policy.min_labelled || prod_labelled == 0) {
    if (elapsed_s >= policy.max_s)
      return {verdict::stop, "too little canary feedback after " + fixed(elapsed_s, 0) +
                                 " s (limit " + fixed(policy.max_s, 0) + " s): " + counts +
                                 "; rolling back"};
    return {verdict::wait,
            "waiting for feedback: " + counts + " after " + fixed(elapsed_s, 0) + " s"};
  }
  const auto [ca, pa] = shown(canary_accuracy, prod_accuracy);
  const std::string numbers = "canary " + measure + ca + " over " +
                              std::to_string(canary_labelled) + unit + " vs production " + pa +
                              " over " + std::to_string(prod_labelled) + " (needs " +
                              signed_fixed(policy.margin) + ")";
  if (canary_accuracy + tolerance >= prod_accuracy + policy.margin)
    return {verdict::go, "promote: " + numbers};
  return {verdict::stop, "roll back: " + numbers};
}

std::string split_for_holdout(const std::string& request_id, double holdout) {
  // A fixed seed keeps the split apart from other hashes of the same ids (e.g. data set
  // splits); XXH3 gives the same value on every machine and in every release.
  constexpr uint64_t seed = 0x666565646261636bull; // "feedback"
  const uint64_t h = XXH3_64bits_withSeed(request_id.data(), request_id.size(), seed);
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53; // uniform in [0, 1)
  return u < holdout ? "eval" : "train";
}

} // namespace llmos::feedback
