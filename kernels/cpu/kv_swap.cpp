#include "llmos/kernels/kv_swap.hpp"

#include <cstring>
#include <utility>

namespace llmos::kernels {

void kv_swap_blocks(const kv_pool_layout& pool, float* host, const kv_block_copy* copies,
                    int32_t count, bool to_host) {
  const auto bytes = static_cast<std::size_t>(pool.block_floats) * sizeof(float);
  const int64_t per_array = int64_t{pool.layers} * pool.block_floats;
  for (int32_t i = 0; i < count; ++i) {
    float* hosted = host + copies[i].host * kv_host_block_floats(pool);
    const int64_t pooled = int64_t{copies[i].pooled} * pool.block_floats;
    for (int32_t l = 0; l < pool.layers; ++l)
      for (auto [array, at] : {std::pair{pool.k, int64_t{0}}, {pool.v, per_array}}) {
        float* in_pool = array + l * pool.layer_stride + pooled;
        float* in_host = hosted + at + l * pool.block_floats;
        std::memcpy(to_host ? in_host : in_pool, to_host ? in_pool : in_host, bytes);
      }
  }
}

} // namespace llmos::kernels
