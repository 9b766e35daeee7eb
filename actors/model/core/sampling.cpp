#include "model/core/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "llmos/messages/error.hpp"

namespace llmos::model {

namespace {

/// A logit as a comparable number: NaN (a broken model) ranks below everything.
double rank_of(float logit) {
  return std::isnan(logit) ? -std::numeric_limits<double>::infinity() : logit;
}

int64_t argmax(const float* logits, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (rank_of(logits[i]) > rank_of(logits[best]))
      best = i;
  return static_cast<int64_t>(best);
}

} // namespace

caf::error validate(const sampling_params& p, int64_t vocab) {
  for (auto [name, v] : {std::pair{"presence_penalty", p.presence_penalty},
                         std::pair{"frequency_penalty", p.frequency_penalty}})
    if (!(v >= -2.0 && v <= 2.0))
      return make_llmos_error(error_code::bad_params, std::string{"sampling: '"} + name + "' is " +
                                                          std::to_string(v) +
                                                          "; use a number from -2 to 2");
  for (const auto& [t, bias] : p.logit_bias) {
    if (!(bias >= -100.0 && bias <= 100.0))
      return make_llmos_error(error_code::bad_params,
                              "sampling: 'logit_bias' of token " + std::to_string(t) + " is " +
                                  std::to_string(bias) + "; use a number from -100 to 100");
    if (t < 0 || (vocab > 0 && t >= vocab))
      return make_llmos_error(error_code::bad_params,
                              "sampling: 'logit_bias' names token " + std::to_string(t) +
                                  ", outside the vocabulary of " + std::to_string(vocab));
  }
  if (!(p.temperature >= 0) || std::isinf(p.temperature))
    return make_llmos_error(error_code::bad_params,
                            "sampling: 'temperature' is " + std::to_string(p.temperature) +
                                "; use a number >= 0 (0 = greedy, 1 = the model's distribution)");
  if (p.top_k < 0)
    return make_llmos_error(error_code::bad_params, "sampling: 'top_k' is " +
                                                        std::to_string(p.top_k) +
                                                        "; use a whole number >= 0 (0 = off)");
  if (!(p.top_p > 0 && p.top_p <= 1))
    return make_llmos_error(error_code::bad_params, "sampling: 'top_p' is " +
                                                        std::to_string(p.top_p) +
                                                        "; use a number in (0, 1] (1 = off)");
  return {};
}

token_logprobs logprobs_of(const float* logits, std::size_t n, int32_t chosen, int top) {
  token_logprobs out;
  if (n == 0)
    return out;
  double max = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i)
    max = std::max(max, rank_of(logits[i]));
  double total = 0;
  for (std::size_t i = 0; i < n; ++i)
    total += std::exp(rank_of(logits[i]) - max);
  const double log_total = max + std::log(total);
  auto lp = [&](std::size_t i) { return static_cast<float>(rank_of(logits[i]) - log_total); };
  if (chosen >= 0 && static_cast<std::size_t>(chosen) < n)
    out.chosen = lp(static_cast<std::size_t>(chosen));
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(std::max(top, 0)), n);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [logits](std::size_t a, std::size_t b) {
                      const double la = rank_of(logits[a]), lb = rank_of(logits[b]);
                      return la > lb || (la == lb && a < b);
                    });
  for (std::size_t j = 0; j < k; ++j)
    out.top.emplace_back(static_cast<int32_t>(order[j]), lp(order[j]));
  return out;
}

int64_t sample_token(const float* logits, std::size_t n, const sampling_params& p,
                     std::mt19937_64& rng) {
  if (n == 0)
    return -1;
  if (p.temperature <= 0)
    return argmax(logits, n);
  // Candidates from most to least likely, lower index first on ties (as greedy picks). Sorting
  // is skipped when neither filter needs an order.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  auto more_likely = [logits](std::size_t a, std::size_t b) {
    const double la = rank_of(logits[a]);
    const double lb = rank_of(logits[b]);
    return la > lb || (la == lb && a < b);
  };
  const auto k = static_cast<std::size_t>(std::max<int64_t>(p.top_k, 0));
  if (k > 0 && k < n) {
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      more_likely);
    order.resize(k);
  } else if (p.top_p < 1) {
    std::sort(order.begin(), order.end(), more_likely);
  }
  // Subtract the max before dividing by the temperature: exp never overflows, and a tiny
  // temperature cannot turn large logits into inf - inf.
  double max = -std::numeric_limits<double>::infinity();
  for (auto i : order)
    max = std::max(max, rank_of(logits[i]));
  if (std::isinf(max)) // all -inf, or an inf that outweighs everything: no softmax to take
    return argmax(logits, n);
  std::vector<double> weight(order.size());
  double total = 0;
  for (std::size_t j = 0; j < order.size(); ++j)
    total += weight[j] = std::exp((rank_of(logits[order[j]]) - max) / p.temperature);
  if (p.top_p < 1) {
    // The smallest prefix holding top_p of the (top-k renormalised) mass; always one token.
    double mass = 0;
    std::size_t keep = 0;
    while (keep < order.size() && (keep == 0 || mass < p.top_p * total))
      mass += weight[keep++];
    order.resize(keep);
    weight.resize(keep);
    total = mass;
  }
  std::uniform_real_distribution<double> draw(0.0, total);
  const double u = draw(rng);
  double cumulative = 0;
  for (std::size_t j = 0; j < order.size(); ++j) {
    cumulative += weight[j];
    if (u < cumulative)
      return static_cast<int64_t>(order[j]);
  }
  // Rounding can leave u a hair above the running sum.
  return static_cast<int64_t>(order.back());
}

} // namespace llmos::model
