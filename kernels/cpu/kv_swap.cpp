#include "llmos/kernels/kv_swap.hpp"

#include <cstring>

namespace llmos::kernels {

void kv_swap_blocks(const kv_pool_layout& pool, float* host, const kv_block_copy* copies,
                    int32_t count, bool to_host) {
  const auto bytes = static_cast<std::size_t>(pool.block_floats) * sizeof(float);
  for (int32_t i = 0; i < count; ++i)
    for (const auto& [pooled, hosted] : kv_copy_ends(pool, host, copies[i]))
      for (int32_t l = 0; l < pool.layers; ++l) {
        float* in_pool = pooled + l * pool.layer_stride;
        float* in_host = hosted + l * pool.block_floats;
        std::memcpy(to_host ? in_host : in_pool, to_host ? in_pool : in_host, bytes);
      }
}

} // namespace llmos::kernels
