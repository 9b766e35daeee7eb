// Choosing the next token from a language model's logits: greedy, or sampling with temperature,
// top-k and nucleus (top-p) filtering. On raw float logits and a caller's generator, so the
// generation loop stays in the model actor and this rule is tested against exact softmax values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

#include <caf/error.hpp>

namespace llmos::model {

/// How to pick tokens; temperature 0 means greedy.
struct sampling_params {
  double temperature = 1.0;
  int64_t top_k = 0;  ///< keep the k most likely tokens; 0 keeps all
  double top_p = 1.0; ///< keep the most likely tokens holding this much probability
};

/// Refuses (bad_params, naming the field) temperature < 0, top_k < 0, top_p outside (0, 1].
caf::error validate(const sampling_params& p);

/// A token id drawn from `logits[0..n)`: argmax (lowest index on ties) at temperature 0, else
/// softmax(logits / temperature) cut to the top_k, renormalised, cut to the nucleus of mass
/// top_p, renormalised and sampled with `rng`; -1 when n is 0.
int64_t sample_token(const float* logits, std::size_t n, const sampling_params& p,
                     std::mt19937_64& rng);

} // namespace llmos::model
