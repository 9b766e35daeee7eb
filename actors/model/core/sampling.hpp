// Choosing the next token from a language model's logits: greedy, or sampling with temperature,
// top-k and nucleus (top-p) filtering. On raw float logits and a caller's generator, so the
// generation loop stays in the model actor and this rule is tested against exact softmax values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <caf/error.hpp>

namespace llmos::model {

/// How to pick tokens; temperature 0 means greedy.
struct sampling_params {
  double temperature = 1.0;
  int64_t top_k = 0;  ///< keep the k most likely tokens; 0 keeps all
  double top_p = 1.0; ///< keep the most likely tokens holding this much probability
  /// OpenAI's penalties over the tokens generated so far: a token's logit loses
  /// presence_penalty once it has appeared and frequency_penalty per appearance.
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  std::vector<std::pair<int32_t, double>> logit_bias; ///< added to a token's logit

  /// True when the logits need adjusting before sampling.
  bool adjusts() const {
    return presence_penalty != 0.0 || frequency_penalty != 0.0 || !logit_bias.empty();
  }
};

/// Refuses (bad_params, naming the field) temperature < 0, top_k < 0, top_p outside (0, 1],
/// penalties outside [-2, 2], a bias outside [-100, 100] or a bias token outside [0, vocab)
/// (vocab 0: not checked).
caf::error validate(const sampling_params& p, int64_t vocab = 0);

/// The logits sampling sees: `logits` itself when `p` adjusts nothing, else a copy in
/// `scratch` with logit_bias added and the penalties applied for `generated`.
template <class Token>
const float* adjusted_logits(const float* logits, std::size_t n, const sampling_params& p,
                             const Token* generated, std::size_t count,
                             std::vector<float>& scratch) {
  if (!p.adjusts())
    return logits;
  scratch.assign(logits, logits + n);
  for (const auto& [t, bias] : p.logit_bias)
    if (t >= 0 && static_cast<std::size_t>(t) < n)
      scratch[static_cast<std::size_t>(t)] += static_cast<float>(bias);
  if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    std::vector<uint32_t> seen(n, 0);
    for (std::size_t i = 0; i < count; ++i)
      if (generated[i] >= 0 && static_cast<std::size_t>(generated[i]) < n)
        ++seen[static_cast<std::size_t>(generated[i])];
    for (std::size_t t = 0; t < n; ++t)
      if (seen[t] > 0)
        scratch[t] -= static_cast<float>(p.presence_penalty + p.frequency_penalty * seen[t]);
  }
  return scratch.data();
}

/// The model's log-probability of `chosen` under softmax(logits) and the `top` most likely tokens
/// with theirs (most likely first, lower id first on ties): what OpenAI's `logprobs` report, of
/// the model's own distribution (before temperature, penalties and bias).
struct token_logprobs {
  float chosen = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
};
token_logprobs logprobs_of(const float* logits, std::size_t n, int32_t chosen, int top);

/// A token id drawn from `logits[0..n)`: argmax (lowest index on ties) at temperature 0, else
/// softmax(logits / temperature) cut to the top_k, renormalised, cut to the nucleus of mass
/// top_p, renormalised and sampled with `rng`; -1 when n is 0.
int64_t sample_token(const float* logits, std::size_t n, const sampling_params& p,
                     std::mt19937_64& rng);

} // namespace llmos::model
