// The paged KV cache's block pool: allocation until empty, sharing counts, prefix publication and
// matching (exact tokens, chained through every earlier block), and eviction of freed published
// blocks only after never-published ones, oldest first.
#include <gtest/gtest.h>

#include "model/core/kv_block_pool.hpp"

namespace llmos::model {
namespace {

std::vector<int64_t> tokens(int64_t n, int64_t first = 1) {
  std::vector<int64_t> t;
  for (int64_t i = 0; i < n; ++i)
    t.push_back(first + i);
  return t;
}

// A pool whose arrays are a GPU's keeps the same books and holds no host memory.
TEST(kv_block_pool, without_host_memory_keeps_the_books_only) {
  kv_block_pool pool(3, 4, 8, 2, false);
  EXPECT_EQ(pool.keys(), nullptr);
  EXPECT_EQ(pool.values(), nullptr);
  EXPECT_EQ(pool.floats(), 2 * 3 * 4 * 8);
  EXPECT_TRUE(pool.allocate());
  EXPECT_EQ(pool.used_blocks(), 1);
}

TEST(kv_block_pool, hands_out_every_block_once_and_takes_them_back) {
  kv_block_pool pool(3, 4, 8, 2);
  EXPECT_EQ(pool.layer_stride(), 3 * 4 * 8);
  std::vector<int32_t> got;
  while (auto b = pool.allocate())
    got.push_back(*b);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(pool.free_blocks(), 0);
  pool.release(1);
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_THROW(kv_block_pool(0, 4, 8, 2), std::invalid_argument);
  pool.release(0);
  EXPECT_THROW(pool.release(0), std::logic_error);
}

TEST(kv_block_pool, a_published_prefix_is_matched_block_by_block_and_shared) {
  kv_block_pool pool(8, 4, 2, 1);
  const auto ctx = tokens(11); // two full blocks and three positions
  const int32_t a = *pool.allocate(), b = *pool.allocate();
  EXPECT_TRUE(pool.publish(0, ctx.data(), a));
  const auto after_a = kv_block_pool::chain(0, ctx.data(), 4);
  EXPECT_TRUE(pool.publish(after_a, ctx.data() + 4, b));
  uint64_t hash = 0;
  auto m = pool.match(ctx, 10, hash);
  EXPECT_EQ(m, (std::vector<int32_t>{a, b}));
  EXPECT_EQ(hash, kv_block_pool::chain(after_a, ctx.data() + 4, 4));
  EXPECT_EQ(pool.users(a), 2);
  EXPECT_EQ(pool.reused_blocks(), 2u);
  // At most max_positions: the second block would reach position 8 > 7.
  EXPECT_EQ(pool.match(ctx, 7, hash), std::vector<int32_t>{a});
  // The same second block after a different first one is another prefix.
  auto other = ctx;
  other[0] = 99;
  EXPECT_TRUE(pool.match(other, 10, hash).empty());
  // Publishing the same prefix twice keeps the first block.
  const int32_t c = *pool.allocate();
  EXPECT_FALSE(pool.publish(0, ctx.data(), c));
}

TEST(kv_block_pool, freed_published_blocks_stay_matchable_until_their_memory_is_needed) {
  kv_block_pool pool(3, 2, 1, 1);
  const auto ctx = tokens(4);
  const int32_t a = *pool.allocate();
  pool.publish(0, ctx.data(), a);
  pool.release(a);
  EXPECT_EQ(pool.free_blocks(), 3);
  // Two never-published blocks go first; the published one survives them.
  const int32_t x = *pool.allocate(), y = *pool.allocate();
  EXPECT_NE(x, a);
  EXPECT_NE(y, a);
  uint64_t hash = 0;
  auto m = pool.match(ctx, 3, hash);
  ASSERT_EQ(m, std::vector<int32_t>{a});
  pool.release(a);
  // Now it is the only free block: taken, it forgets its prefix.
  EXPECT_EQ(pool.allocate(), a);
  EXPECT_TRUE(pool.match(ctx, 3, hash).empty());
  EXPECT_FALSE(pool.allocate());
}

} // namespace
} // namespace llmos::model
