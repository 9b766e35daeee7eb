// Data-parallel equivalence: two replicas that each take half of every batch and average their
// gradients through Gloo end with the parameters of one replica that takes the whole batch; a
// replica whose half has nothing labelled still steps with the other (no gradients of its own),
// so neither waits for the other and they stay identical.
#include <algorithm>
#include <thread>

#include "engine_test_util.hpp"
#include "model/train/gradient_group.hpp"
#include "replica_parameters.hpp"

namespace llmos::model::testing {
namespace {

TEST(engine_parallel, two_replicas_with_half_batches_match_one_with_the_whole) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  auto spec = spec_of("model: dp\narchitecture: bag\nhyper: {embed_dim: 32, hidden_dim: 32, "
                      "dropout: 0.0}\ntrain: {lr: 0.003, max_steps: 8, warmup_steps: 2}\n");
  auto batches = set->batches("train", 32);
  ASSERT_GE(batches.size(), 8u);
  batches.resize(8);

  auto single = make_engine(spec, *set);
  for (auto& b : batches)
    ASSERT_TRUE(single->train_step(b));

  auto g0 = gradient_group::open("127.0.0.1", 0, 0, 2);
  ASSERT_TRUE(g0) << describe(g0.error());
  auto g1 = gradient_group::open("127.0.0.1", (*g0)->store_port(), 1, 2);
  ASSERT_TRUE(g1) << describe(g1.error());
  auto r0 = make_engine(spec, *set);
  auto r1 = make_engine(spec, *set);
  r0->join(*g0);
  r1->join(*g1);
  std::thread other([&] {
    for (auto& b : batches)
      EXPECT_TRUE(r1->train_step(slice(b, 16, 16)));
  });
  for (auto& b : batches)
    EXPECT_TRUE(r0->train_step(slice(b, 0, 16)));
  other.join();

  ASSERT_NO_FATAL_FAILURE(test::expect_replicas_match_single(
      single->flat_parameters(), r0->flat_parameters(), r1->flat_parameters()));
  EXPECT_EQ(r0->step(), 8);
}

TEST(engine_parallel, a_replica_with_nothing_to_learn_still_steps_with_the_others) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  auto spec = spec_of("model: dp\narchitecture: bag\nhyper: {embed_dim: 16, hidden_dim: 16, "
                      "dropout: 0.0}\ntrain: {lr: 0.003, max_steps: 4, warmup_steps: 0, "
                      "accumulation: 2}\n");
  auto batches = set->batches("train", 16);
  ASSERT_GE(batches.size(), 8u);
  batches.resize(8);
  // Rank 1's second and fifth batches have no labels: nothing to learn from them.
  for (auto i : {1, 4})
    std::fill(batches[i].labels.begin(), batches[i].labels.end(), "");
  auto g0 = gradient_group::open("127.0.0.1", 0, 0, 2, "127.0.0.1", 20000);
  ASSERT_TRUE(g0) << describe(g0.error());
  auto g1 = gradient_group::open("127.0.0.1", (*g0)->store_port(), 1, 2, "127.0.0.1", 20000);
  ASSERT_TRUE(g1) << describe(g1.error());
  auto r0 = make_engine(spec, *set);
  auto r1 = make_engine(spec, *set);
  r0->join(*g0);
  r1->join(*g1);
  std::vector<caf::expected<step_report>> second;
  std::thread other([&] {
    for (std::size_t i = 0; i < batches.size(); ++i)
      second.push_back(r1->train_step(batches[i]));
  });
  auto more = set->batches("train", 16);
  ASSERT_GE(more.size(), 16u);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    auto r = r0->train_step(more[8 + i]);
    EXPECT_TRUE(r) << describe(r.error());
  }
  other.join();
  for (std::size_t i = 0; i < second.size(); ++i) {
    ASSERT_TRUE(second[i]) << "batch " << i << ": " << describe(second[i].error());
    EXPECT_EQ(second[i]->samples, i == 1 || i == 4 ? 0 : 16) << "batch " << i;
  }
  EXPECT_EQ(r0->step(), 4);
  EXPECT_EQ(r1->step(), 4);
  EXPECT_EQ(r0->flat_parameters(), r1->flat_parameters());
  EXPECT_EQ((*g0)->backend(), "gloo");
}

} // namespace
} // namespace llmos::model::testing
