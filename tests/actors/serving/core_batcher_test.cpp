// The dynamic batcher with explicit time points: full batches under load, the delay bound for a
// lone request, priority order, the queue bound and cancellation.
#include <chrono>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "serving/core/batcher.hpp"

namespace {

using namespace std::chrono_literals;
using llmos::serving::batcher_config;
using llmos::serving::dynamic_batcher;
using clock_type = dynamic_batcher::clock;

const clock_type::time_point t0{};

TEST(batcher, forms_full_batches_under_load) {
  dynamic_batcher b{batcher_config{4, 2000us, 16, 1}};
  for (uint64_t id = 0; id < 10; ++id) {
    ASSERT_TRUE(b.push(id, 0, t0));
    // Under load a batch goes as soon as it is full, long before the delay bound.
    EXPECT_EQ(b.ready(t0), b.size() >= 4) << "after " << id + 1 << " pushes";
  }
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_FALSE(b.ready(t0)) << "two left, not full, no time passed";
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{8, 9}));
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.take().empty());
}

TEST(batcher, lone_request_waits_at_most_max_delay) {
  dynamic_batcher b{batcher_config{8, 2000us, 64, 3}};
  EXPECT_FALSE(b.deadline());
  EXPECT_FALSE(b.ready(t0));
  ASSERT_TRUE(b.push(7, 1, t0 + 100us));
  ASSERT_TRUE(b.push(8, 1, t0 + 900us));
  // The deadline follows the oldest request, not the newest.
  ASSERT_TRUE(b.deadline());
  EXPECT_EQ(*b.deadline(), t0 + 2100us);
  EXPECT_FALSE(b.ready(t0 + 2099us));
  EXPECT_TRUE(b.ready(t0 + 2100us));
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{7, 8}));
  EXPECT_FALSE(b.deadline());
}

TEST(batcher, most_urgent_first_fifo_within_a_level) {
  dynamic_batcher b{batcher_config{4, 2000us, 64, 3}};
  // An out-of-range priority (9) counts as the least urgent level (2).
  const std::vector<std::pair<uint64_t, uint32_t>> arrivals{{1, 2}, {2, 0}, {3, 9}, {4, 1},
                                                            {5, 0}, {6, 1}, {7, 2}};
  for (auto [id, priority] : arrivals)
    ASSERT_TRUE(b.push(id, priority, t0));
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{2, 5, 4, 6}));
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{1, 3, 7}));
}

TEST(batcher, deadline_counts_the_oldest_of_any_level) {
  dynamic_batcher b{batcher_config{4, 1000us, 64, 2}};
  ASSERT_TRUE(b.push(1, 1, t0));
  ASSERT_TRUE(b.push(2, 0, t0 + 500us));
  EXPECT_EQ(*b.deadline(), t0 + 1000us);
  EXPECT_TRUE(b.ready(t0 + 1000us));
}

TEST(batcher, queue_bound_refuses_then_accepts_after_take) {
  dynamic_batcher b{batcher_config{2, 2000us, 3, 1}};
  EXPECT_TRUE(b.push(1, 0, t0));
  EXPECT_TRUE(b.push(2, 0, t0));
  EXPECT_TRUE(b.push(3, 0, t0));
  EXPECT_FALSE(b.push(4, 0, t0)) << "full queue must refuse (the caller answers 429)";
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.take().size(), 2u);
  EXPECT_TRUE(b.push(4, 0, t0));
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{3, 4}));
}

TEST(batcher, remove_drops_a_cancelled_request) {
  dynamic_batcher b{batcher_config{4, 1000us, 8, 2}};
  ASSERT_TRUE(b.push(1, 1, t0));
  ASSERT_TRUE(b.push(2, 1, t0 + 300us));
  ASSERT_TRUE(b.push(3, 0, t0 + 400us));
  EXPECT_TRUE(b.remove(1));
  EXPECT_FALSE(b.remove(1));
  EXPECT_FALSE(b.remove(99));
  EXPECT_EQ(b.size(), 2u);
  // The deadline moves on to the new oldest request.
  EXPECT_EQ(*b.deadline(), t0 + 1300us);
  EXPECT_EQ(b.take(), (std::vector<uint64_t>{3, 2}));
}

TEST(batcher, zero_delay_sends_at_once) {
  dynamic_batcher b{batcher_config{8, 0us, 8, 1}};
  ASSERT_TRUE(b.push(1, 0, t0));
  EXPECT_TRUE(b.ready(t0));
}

TEST(batcher, validate_names_the_field) {
  EXPECT_FALSE(validate(batcher_config{}));
  auto check = [](batcher_config c, const std::string& field) {
    auto err = validate(c);
    ASSERT_TRUE(err) << field;
    EXPECT_EQ(err.code(), static_cast<uint8_t>(llmos::error_code::bad_params));
    EXPECT_NE(llmos::describe(err).find("'" + field + "'"), std::string::npos)
        << llmos::describe(err);
  };
  check(batcher_config{0, 2000us, 1024, 3}, "max_batch");
  check(batcher_config{32, 2000us, 16, 3}, "queue_limit");
  check(batcher_config{32, 2000us, 1024, 0}, "priorities");
  check(batcher_config{32, -1us, 1024, 3}, "max_delay");
}

} // namespace
