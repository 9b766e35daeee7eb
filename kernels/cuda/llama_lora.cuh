// Low-rank adapters (LoRA) in the CUDA decode step (llama_decode.cu): each step uploads a table
// of every item's adapter matrices per layer and linear, and after each linear layer's product
// over the batch, two kernels add scale * B (A x) for the items that have an adapter there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
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
inline constexpr llama_lora llama_block_adapter::*lora_linear_of[lora_linears] = {
    &llama_block_adapter::wq, &llama_block_adapter::wk, &llama_block_adapter::wv,
    &llama_block_adapter::wo, &llama_block_adapter::w1, &llama_block_adapter::w3,
    &llama_block_adapter::w2};

/// (in, out) of linear `which` (its place in that order) of a block of `w`.
inline std::pair<int64_t, int64_t> lora_in_out(int which, const llama_decode_weights& w) {
  const int64_t dim = w.dim, hidden = w.hidden_dim,
                kv_dim = int64_t{w.dim} / w.n_heads * w.n_kv_heads;
  switch (which) {
  case 1: // wk
  case 2: // wv
    return {dim, kv_dim};
  case 4: // w1
  case 5: // w3
    return {dim, hidden};
  case 6: // w2
    return {hidden, dim};
  default: // wq, wo
    return {dim, dim};
  }
}

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
