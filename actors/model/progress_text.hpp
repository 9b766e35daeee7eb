// The lines a training run's progress events carry, as the REPL shows them beside its bar.
#pragma once

#include <cstdint>
#include <string>

#include "model/train/engine.hpp"

namespace llmos::model {

/// "loss 0.4123 lr 0.00300 | 812 samples/s | ETA 14 s" after `seconds` of the run, `samples`
/// trained on so far (tokens for a language model, `lm`).
std::string step_line(const step_report& r, int64_t samples, double seconds, int64_t max_steps,
                      bool lm);

/// "val loss 0.2 accuracy 0.912 macro-F1 0.905" or "val loss 2.0 perplexity 7.41".
std::string eval_line(const eval_report& r);

} // namespace llmos::model
