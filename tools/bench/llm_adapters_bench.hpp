// What serving LoRA fine-tunes as adapters over one base costs in a batched decode step
// (part of `llmos-bench llm`): the same sequences decoded together by one batch_decoder with no
// adapter, and spread over several adapters (each item adds scale * B (A x) per linear layer).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "model/model_fwd.hpp"

namespace llmos::bench {

/// Decodes `sequences` greedy sequences of `tokens` tokens from BOS together, `rounds` times,
/// without adapters and with `adapters` rank-`rank` adapters taken round-robin; prints a line
/// and writes adapters_* keys (tokens per second, the ratio) into `out`. False on failure.
bool adapters_round(const model::llama_weights& w, model::engine& base, int sequences, int tokens,
                    int adapters, int rank, int rounds, nlohmann::json& out);

} // namespace llmos::bench
