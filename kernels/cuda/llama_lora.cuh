// Low-rank adapters (LoRA) in the CUDA decode step (llama_decode.cu): each step uploads a table
// of every item's adapter matrices per layer and linear, and after each linear layer's product
// over the batch, two kernels add scale * B (A x) for the items that have an adapter there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "cuda/growing_buffer.cuh"
#include "llmos/kernels/llama_decode.hpp"

namespace llmos::kernels {

/// One item's adapter of one linear layer as the kernels read it (a null: none there).
struct device_lora {
  const float* a;
  const float* b;
  int rank;
  float scale;
};

/// The linear layers of a block in the order of the step's table: wq, wk, wv, wo, w1, w3, w2.
constexpr int lora_linears = 7;

/// The step's adapters, [layer][linear][item] in device memory, and room for A x of each item;
/// grown when a step has adapters.
struct lora_table {
  growing<device_lora, false> entries;
  growing<float, false> low_rank;
  int max_rank = 0; ///< of the current step; 0: no item has an adapter
  std::vector<device_lora> host;
};

/// Fills and uploads `t` for a step of `count` items on `stream` (`adapters`: one per item, with
/// matrices in device memory, or null for none; t.max_rank stays 0 when no item has one). "" on
/// success, else why the adapters do not fit the network or a CUDA error.
std::string stage_loras(lora_table& t, const llama_decode_weights& w,
                        const llama_adapter_weights* const* adapters, int32_t count,
                        cudaStream_t stream);

/// out[item] += scale * B (A x[item]) for the items with an adapter on linear `which` (its place
/// in the table's order) of `layer`; x [count, cols], out [count, rows]. Nothing without adapters.
void add_loras(const lora_table& t, int layer, int which, float* out, const float* x, int cols,
               int rows, int32_t count, cudaStream_t stream);

} // namespace llmos::kernels
