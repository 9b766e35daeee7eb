// One batch_decoder run for the `llmos-bench llm` rounds that call the decoder directly (adapters,
// preemption): sequences admitted together from BOS and decoded to the end, timed.
#pragma once

#include <memory>
#include <vector>

#include "model/model_fwd.hpp"
#include "model/train/batch_decoder.hpp"

namespace llmos::bench {

/// What one run gave: generated tokens per second (0 when the decoder failed) and its counters.
struct decode_run {
  double tps = 0.0;
  model::decoder_stats stats;
};

/// Decodes `sequences` sequences of `tokens` tokens from BOS with one decoder of `cfg`; each
/// under adapter i % adapters (none without), sampled at `temperature` with seed i + 1 (0: greedy,
/// every sequence the same).
decode_run run_decoder(model::engine& base, const model::decoder_config& cfg,
                       const std::vector<std::shared_ptr<const model::lora_adapter>>& adapters,
                       int sequences, int tokens, double temperature = 0.0);

} // namespace llmos::bench
