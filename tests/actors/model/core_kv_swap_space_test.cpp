// The swap space's books: all or none of a request, every block once, and a release of a block
// that is not handed out refused without changing anything.
#include <stdexcept>

#include <gtest/gtest.h>

#include "model/core/kv_swap_space.hpp"

namespace llmos::model {
namespace {

TEST(kv_swap_space, hands_out_all_of_a_request_or_none) {
  kv_swap_space space(5);
  auto a = space.allocate(3);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(space.used(), 3);
  EXPECT_FALSE(space.allocate(3)); // two left: nothing taken
  EXPECT_EQ(space.used(), 3);
  auto b = space.allocate(2);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (std::vector<int32_t>{3, 4}));
  space.release(*a);
  EXPECT_EQ(space.used(), 2);
  auto c = space.allocate(3);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, *a); // the released blocks, in the same order
  EXPECT_FALSE(space.allocate(-1));
  EXPECT_EQ(kv_swap_space(0).allocate(1), std::nullopt);
}

TEST(kv_swap_space, refuses_to_release_a_block_it_did_not_hand_out) {
  kv_swap_space space(4);
  auto a = space.allocate(2);
  ASSERT_TRUE(a);
  EXPECT_THROW(space.release({0, 3}), std::logic_error); // 3 is free
  EXPECT_THROW(space.release({1, 1}), std::logic_error); // twice in one call
  EXPECT_THROW(space.release({7}), std::logic_error);
  EXPECT_EQ(space.used(), 2); // none of those released anything
  space.release(*a);
  EXPECT_EQ(space.used(), 0);
  EXPECT_THROW(space.release(*a), std::logic_error);
}

} // namespace
} // namespace llmos::model
