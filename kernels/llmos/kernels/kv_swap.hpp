// Swapping a paged KV cache: whole blocks copied between the pool (host or GPU memory) and host
// swap memory, every layer of a block in one go. A host block holds one pool block's keys for
// every layer, then its values for every layer, contiguous, so a GPU moves it with two strided
// copies (one per array) instead of one per layer, and a swapped sequence needs only a list of
// host block ids. The CPU copy is here; a GPU's is llama_paged_cuda::swap.
#pragma once

#include <array>
#include <cstdint>

namespace llmos::kernels {

/// Where a paged pool's blocks are: block b of layer l starts at l * layer_stride + b *
/// block_floats in `k` and in `v` (kv_block_pool's layout).
struct kv_pool_layout {
  float* k = nullptr;
  float* v = nullptr;
  int64_t layer_stride = 0;
  int64_t block_floats = 0; ///< positions per block times floats per position
  int32_t layers = 0;
};

/// One block's copy: pool block `pooled` and host block `host`.
struct kv_block_copy {
  int32_t pooled = 0;
  int32_t host = 0;
};

/// Floats of one host block (keys and values of every layer).
inline int64_t kv_host_block_floats(const kv_pool_layout& pool) {
  return 2 * int64_t{pool.layers} * pool.block_floats;
}

/// Where one copy's block starts, for keys and then for values: in the pool's layer 0 (layer l is
/// l * layer_stride further) and in its host block (layer l is l * block_floats further). The CPU
/// copy and a GPU's both take their ends from here.
struct kv_copy_end {
  float* in_pool;
  float* in_host;
};
inline std::array<kv_copy_end, 2> kv_copy_ends(const kv_pool_layout& pool, float* host,
                                               const kv_block_copy& copy) {
  float* hosted = host + copy.host * kv_host_block_floats(pool);
  const int64_t pooled = int64_t{copy.pooled} * pool.block_floats;
  return {{{pool.k + pooled, hosted},
           {pool.v + pooled, hosted + int64_t{pool.layers} * pool.block_floats}}};
}

/// Copies `count` blocks between a pool in host memory and host swap memory `host` (host block h
/// at h * kv_host_block_floats); `to_host`: from the pool.
void kv_swap_blocks(const kv_pool_layout& pool, float* host, const kv_block_copy* copies,
                    int32_t count, bool to_host);

} // namespace llmos::kernels
