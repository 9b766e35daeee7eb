// Swapping whole KV blocks between a paged pool and host swap memory (the CPU copy): a host
// block holds the pool block's keys for every layer, then its values, and copying back into
// other pool blocks restores exactly what was there, touching nothing else.
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/kernels/kv_swap.hpp"

namespace llmos::kernels {
namespace {

// Three layers of five blocks of 2 positions x 3 floats; every float its own value.
struct pool_arrays {
  static constexpr int32_t layers = 3, blocks = 5;
  static constexpr int64_t block_floats = 6, stride = blocks * block_floats;
  std::vector<float> k, v;
  pool_arrays() : k(layers * stride), v(layers * stride) {
    for (std::size_t i = 0; i < k.size(); ++i) {
      k[i] = static_cast<float>(i);
      v[i] = -static_cast<float>(i) - 1;
    }
  }
  kv_pool_layout layout() { return {k.data(), v.data(), stride, block_floats, layers}; }
};

TEST(kv_swap, a_host_block_holds_every_layer_of_a_pool_block_keys_first) {
  pool_arrays pool;
  const auto layout = pool.layout();
  ASSERT_EQ(kv_host_block_floats(layout), 2 * 3 * 6);
  std::vector<float> host(2 * kv_host_block_floats(layout), 0.0f);
  const kv_block_copy out[] = {{3, 1}, {0, 0}};
  kv_swap_blocks(layout, host.data(), out, 2, true);
  for (auto [pooled, hosted] : {std::pair{3, 1}, {0, 0}})
    for (int32_t l = 0; l < pool_arrays::layers; ++l)
      for (int64_t f = 0; f < pool_arrays::block_floats; ++f) {
        const auto in_pool = l * pool_arrays::stride + pooled * pool_arrays::block_floats + f;
        const auto base = hosted * kv_host_block_floats(layout) + l * pool_arrays::block_floats;
        EXPECT_EQ(host[base + f], pool.k[in_pool]) << "key, layer " << l;
        EXPECT_EQ(host[base + 3 * pool_arrays::block_floats + f], pool.v[in_pool])
            << "value, layer " << l;
      }
}

TEST(kv_swap, copying_back_into_other_blocks_restores_them_and_nothing_else) {
  pool_arrays pool, before;
  const auto layout = pool.layout();
  std::vector<float> host(2 * kv_host_block_floats(layout));
  const kv_block_copy out[] = {{1, 0}, {4, 1}};
  kv_swap_blocks(layout, host.data(), out, 2, true);
  const kv_block_copy in[] = {{2, 0}, {0, 1}}; // block 1's cache now in block 2, 4's in 0
  kv_swap_blocks(layout, host.data(), in, 2, false);
  for (int32_t l = 0; l < pool_arrays::layers; ++l)
    for (int32_t b = 0; b < pool_arrays::blocks; ++b) {
      const int32_t from = b == 2 ? 1 : b == 0 ? 4 : b;
      for (int64_t f = 0; f < pool_arrays::block_floats; ++f) {
        const auto at = [&](int32_t block) {
          return l * pool_arrays::stride + block * pool_arrays::block_floats + f;
        };
        EXPECT_EQ(pool.k[at(b)], before.k[at(from)]) << "layer " << l << " block " << b;
        EXPECT_EQ(pool.v[at(b)], before.v[at(from)]) << "layer " << l << " block " << b;
      }
    }
}

} // namespace
} // namespace llmos::kernels
