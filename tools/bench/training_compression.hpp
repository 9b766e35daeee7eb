// Compression on the Transformer classifier (part of `llmos-bench training`): int8 inference
// speed and agreement with float, and bf16 autocast training speed, against f32.
#pragma once

#include <nlohmann/json.hpp>

#include "training_workload.hpp"

namespace llmos::bench {

/// Trains the Transformer classifier on `w`'s batches but the last 30 (held out) in f32 and
/// bf16, then times inference in f32 and int8; prints two lines and writes transformer_* keys
/// into `out`. Reported as measured, paying off or not.
void compression(const workload& w, nlohmann::json& out);

} // namespace llmos::bench
