// What preemption costs a batched decode (part of `llmos-bench llm`): the same sampled sequences
// decoded together by one batch_decoder with room for all of them, and in a pool too small for
// them, where the newest are preempted and come back by recomputing their cache or by swapping
// it to host memory and back (kv_swap).
#pragma once

#include <nlohmann/json.hpp>

#include "model/model_fwd.hpp"

namespace llmos::bench {

/// Decodes `sequences` sequences of `tokens` tokens (temperature 0.9, a seed each) `rounds`
/// times in each mode, the small pool holding `pool_blocks` blocks; prints a line and writes
/// preempt_* keys (tokens per second, preemptions, swaps) into `out`. False on failure.
bool preemption_round(model::engine& base, int sequences, int tokens, int pool_blocks, int rounds,
                      nlohmann::json& out);

} // namespace llmos::bench
