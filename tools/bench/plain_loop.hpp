// The raw-library baseline of llmos-bench training: a plain LibTorch loop (forward, loss,
// backward, AdamW step) over the same network the engine builds, with no engine, device actor or
// messages in between. Torch-free interface.
#pragma once

#include <vector>

#include "llmos/messages/dataset.hpp"
#include "model/core/data_shape.hpp"
#include "model/core/label_vocab.hpp"
#include "model/core/model_spec.hpp"

namespace llmos::bench {

/// Trains `steps` steps cycling over `batches`; returns samples per second.
double plain_libtorch_sps(const model::model_spec& spec, const model::data_shape& shape,
                          const model::label_vocab& labels, const std::vector<data_batch>& batches,
                          int steps);

} // namespace llmos::bench
