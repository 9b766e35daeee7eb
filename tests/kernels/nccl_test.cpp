// The NCCL group (label gpu): one rank per GPU of this machine, each in its own thread as the
// device actors would be, sums a vector; without a GPU the entry points say why they cannot.
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/nccl_group.hpp"

namespace {

using llmos::kernels::nccl_group;

TEST(nccl_group, without_a_gpu_joining_says_why) {
  if (llmos::kernels::cuda_device_count() > 0)
    GTEST_SKIP() << "a GPU is present; covered by nccl_group_gpu";
  std::string id(128, '\0');
  std::unique_ptr<nccl_group> g;
  const auto err = nccl_group::join(0, 0, 1, id, 1000, &g);
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(g, nullptr);
  EXPECT_FALSE(nccl_group::join(0, 0, 1, "short", 1000, &g).empty()) << "a truncated id is refused";
}

TEST(nccl_group_gpu, all_reduce_sums_over_every_gpu) {
  const int gpus = llmos::kernels::cuda_device_count();
  if (gpus == 0)
    GTEST_SKIP() << "no CUDA device on this machine";
  std::string id;
  ASSERT_EQ(nccl_group::make_id(&id), "");
  ASSERT_EQ(id.size(), 128u);
  constexpr std::size_t n = 1 << 20;
  std::vector<std::vector<float>> data(static_cast<std::size_t>(gpus));
  std::vector<std::string> errors(static_cast<std::size_t>(gpus));
  std::vector<std::thread> ranks;
  for (int r = 0; r < gpus; ++r)
    ranks.emplace_back([&, r] {
      auto& v = data[static_cast<std::size_t>(r)];
      v.assign(n, static_cast<float>(r + 1));
      v[7] = 0.5f * static_cast<float>(r);
      std::unique_ptr<nccl_group> g;
      auto& e = errors[static_cast<std::size_t>(r)];
      e = nccl_group::join(r, r, gpus, id, 60000, &g);
      if (e.empty())
        e = g->all_reduce_sum(v.data(), v.size(), 60000);
    });
  for (auto& t : ranks)
    t.join();
  const float total = static_cast<float>(gpus * (gpus + 1) / 2);
  float halves = 0;
  for (int r = 0; r < gpus; ++r)
    halves += 0.5f * static_cast<float>(r);
  for (int r = 0; r < gpus; ++r) {
    ASSERT_EQ(errors[static_cast<std::size_t>(r)], "") << "rank " << r;
    EXPECT_EQ(data[static_cast<std::size_t>(r)][0], total);
    EXPECT_EQ(data[static_cast<std::size_t>(r)][n - 1], total);
    EXPECT_EQ(data[static_cast<std::size_t>(r)][7], halves);
  }
}

TEST(nccl_group_gpu, a_rank_that_never_comes_fails_the_join_at_its_deadline) {
  if (llmos::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device on this machine";
  std::string id;
  ASSERT_EQ(nccl_group::make_id(&id), "");
  std::unique_ptr<nccl_group> g;
  const auto start = std::chrono::steady_clock::now();
  const auto err = nccl_group::join(0, 0, 2, id, 2000, &g); // rank 1 never joins
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_NE(err.find("not every rank joined"), std::string::npos) << err;
  EXPECT_EQ(g, nullptr);
  EXPECT_GE(waited, std::chrono::milliseconds(2000));
  EXPECT_LT(waited, std::chrono::seconds(30)) << "the abort must not hang either";
}

} // namespace
