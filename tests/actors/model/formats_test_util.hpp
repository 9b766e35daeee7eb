// Shared by the pretrained-model tests: where the shared models are (one configurable folder)
// and small random Llama models for round trips through every format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmos/messages/dataset.hpp"
#include "model/formats/llama_weights.hpp"

namespace llmos::test {

/// The models folder: $LLMOS_MODELS_DIR, else the setup cache's .cache/data/models.
std::string models_dir();

/// The folder of stories260K (stories260K.bin, tok512.bin, expected-greedy-200.txt); "" with
/// `why` set to a message saying where to put it when it is absent.
std::string stories260k_dir(std::string* why);

/// stories260K's weights and vocabulary; nullopt with `why` set when the files are absent or do
/// not read.
std::optional<model::llama_weights> stories260k(std::string* why);

/// `ids` cut into rows of `length` tokens, the rest dropped: a language model's batch.
data_batch lm_batch(const std::vector<int32_t>& ids, int64_t length);

/// A random model of config `c` (tensors drawn from seed, deterministic) with a vocabulary of
/// c.vocab_size pieces: <unk>, <s>, </s>, the 256 byte pieces when they fit, then made-up
/// pieces with decreasing scores.
model::llama_weights random_llama(const model::llama_config& c, uint64_t seed);

/// A small config that has every feature: GQA, an untied classifier optional.
model::llama_config small_config(bool tied = true);

} // namespace llmos::test
