// A fine-tune served as adapters over its base: the low-rank matrices (LoRA's A and B) of every
// block layer of a llama network fine-tuned with LoRA from the weights a replica already serves.
// Many fine-tunes of one base then share the base's weights, KV cache pool and decode steps; each
// costs only its adapters' memory (0.3% of a 7B Llama's weights at rank 8), and requests for
// different fine-tunes run in the same step (see batch_decoder and the decode kernel).
// Torch-free header: the adapters are plain float copies, so the fine-tune's engine (its copy of
// the base weights included) can go once they are taken.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "llmos/kernels/llama_decode.hpp"

namespace llmos::model {

class engine;

struct lora_adapter {
  std::string name;
  int32_t rank = 0;                                          ///< the largest rank of its layers
  int64_t floats = 0;                                        ///< adapter parameters, all layers
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, kv_dim = 0; ///< of the base it was taken over
  kernels::llama_adapter_weights weights;                    ///< points into storage
  std::vector<std::vector<float>> storage;

  /// The adapters of `tuned` over `base`. bad_params (naming `name` and what is wrong) when either
  /// is not a float32 llama network, their shapes differ, `tuned` has no adapters or one on its
  /// classifier, or any base weight of `tuned` differs from `base`'s: then it is a full fine-tune
  /// or a fine-tune of another base, to be served as a model of its own.
  static caf::expected<std::shared_ptr<const lora_adapter>>
  extract(const engine& base, const engine& tuned, const std::string& name);

  /// Whether the adapters fit a network of these weights' shape.
  bool fits(const kernels::llama_decode_weights& w) const;
};

} // namespace llmos::model
