// The caching allocator's figures reach the device actor through a reader the model library
// registers: none registered means zeros, a registered one is asked with the GPU's index.
#include <gtest/gtest.h>

#include "llmos/kernels/allocator_usage.hpp"

namespace {

using llmos::kernels::allocator_usage;

allocator_usage by_index(int device) {
  return {static_cast<uint64_t>(device) * 1000 + 7, static_cast<uint64_t>(device) * 2000 + 9};
}

TEST(allocator_usage, zeros_without_a_reader_and_the_readers_figures_with_one) {
  llmos::kernels::set_allocator_usage_reader(nullptr);
  EXPECT_EQ(llmos::kernels::allocator_usage_of(0).allocated_bytes, 0u);
  EXPECT_EQ(llmos::kernels::allocator_usage_of(0).reserved_bytes, 0u);
  llmos::kernels::set_allocator_usage_reader(&by_index);
  const auto two = llmos::kernels::allocator_usage_of(2);
  EXPECT_EQ(two.allocated_bytes, 2007u);
  EXPECT_EQ(two.reserved_bytes, 4009u);
  llmos::kernels::set_allocator_usage_reader(nullptr);
  EXPECT_EQ(llmos::kernels::allocator_usage_of(2).allocated_bytes, 0u);
}

} // namespace
