// The data-parallel group's choice of library: NCCL only where every rank has a GPU of its own
// and the build has NCCL, Gloo otherwise or when asked; two ranks on one GPU go through Gloo
// where there is one and are refused by name where NCCL is the only way; ranks that asked for
// different libraries are refused; a rank's place reads back from its text.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/collective_backend.hpp"

namespace llmos::model {
namespace {

const rank_place cpu{"cpu", "", "alpha"};
const rank_place gpu_a{"cuda", "GPU-aaaa", "alpha"};
const rank_place gpu_b{"cuda", "GPU-bbbb", "beta"};
constexpr collective_libraries both{true, true};

/// What `places` choose when each asked for `asked`, or "refused: WHY".
std::string chosen(std::vector<rank_place> places, const std::string& asked,
                   collective_libraries built = both) {
  for (auto& p : places)
    p.asked = asked;
  auto got = choose_backend(places, built);
  return got ? *got : "refused: " + describe(got.error());
}

TEST(collective_backend, nccl_only_where_every_rank_has_a_gpu_of_its_own) {
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "auto"), "nccl");
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "nccl"), "nccl");
  EXPECT_EQ(chosen({gpu_a}, "auto"), "nccl");
  EXPECT_EQ(chosen({cpu, cpu}, "auto"), "gloo");
  EXPECT_EQ(chosen({gpu_a, cpu}, "auto"), "gloo"); // a mix meets in host memory
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "auto", {false, true}), "gloo");
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "gloo"), "gloo");
}

TEST(collective_backend, two_ranks_on_one_gpu_go_through_gloo_or_are_refused_by_name) {
  const rank_place again{"cuda", "GPU-aaaa", "alpha"};
  EXPECT_EQ(chosen({gpu_b, gpu_a, again}, "auto"), "gloo"); // through host memory
  EXPECT_EQ(chosen({gpu_a, again}, "gloo"), "gloo");
  const auto asked = chosen({gpu_b, gpu_a, again}, "nccl");
  EXPECT_NE(asked.find("ranks 1 and 2 are both on GPU GPU-aaaa of alpha"), std::string::npos)
      << asked;
  EXPECT_NE(asked.find("or average over gloo"), std::string::npos) << asked;
  // Where the LibTorch has no Gloo (pip's), NCCL is the only way: refused up front.
  const auto no_gloo = chosen({gpu_a, again}, "auto", {true, false});
  EXPECT_NE(no_gloo.find("ranks 0 and 1 are both on GPU GPU-aaaa"), std::string::npos) << no_gloo;
  EXPECT_NE(no_gloo.find("this LibTorch has no Gloo"), std::string::npos) << no_gloo;
  // A GPU nobody could identify is not given to NCCL.
  const rank_place unknown{"cuda", "", "gamma"};
  EXPECT_NE(chosen({gpu_a, unknown}, "nccl").find("rank 1's GPU on gamma could not be identified"),
            std::string::npos);
}

TEST(collective_backend, what_cannot_be_met_is_refused_with_the_reason) {
  EXPECT_NE(chosen({gpu_a, cpu}, "nccl").find("rank 1 computes on cpu"), std::string::npos);
  EXPECT_NE(chosen({gpu_a, gpu_b}, "nccl", {false, true}).find("this build of llmos has no NCCL"),
            std::string::npos);
  EXPECT_NE(chosen({cpu}, "mpi").find("backend 'mpi' is unknown (auto, nccl or gloo)"),
            std::string::npos);
  EXPECT_FALSE(check_backend_name("nccl"));
  EXPECT_TRUE(check_backend_name(""));
  // Ranks that asked differently would wait on each other in two libraries.
  auto mixed = std::vector<rank_place>{gpu_a, gpu_b};
  mixed[1].asked = "gloo";
  auto got = choose_backend(mixed, both);
  ASSERT_FALSE(got);
  EXPECT_NE(describe(got.error()).find("rank 0 asked for auto but rank 1 for gloo"),
            std::string::npos)
      << describe(got.error());
}

TEST(collective_backend, a_rank_place_reads_back_from_its_text) {
  auto b = gpu_b;
  b.asked = "nccl";
  auto back = rank_place::parse(b.text());
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->type, "cuda");
  EXPECT_EQ(back->gpu, "GPU-bbbb");
  EXPECT_EQ(back->host, "beta");
  EXPECT_EQ(back->asked, "nccl");
  auto plain = rank_place::parse(cpu.text());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->gpu, "");
  EXPECT_FALSE(rank_place::parse("cuda-only"));
  EXPECT_FALSE(rank_place::parse("a|b|c|d|e"));
}

} // namespace
} // namespace llmos::model
