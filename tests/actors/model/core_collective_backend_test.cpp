// The data-parallel group's choice of library: NCCL only where every rank has a GPU of its own
// and the build has NCCL, Gloo otherwise or when asked; two ranks on one GPU refused up front by
// name; a rank's place read back from its text.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/collective_backend.hpp"

namespace llmos::model {
namespace {

const rank_place cpu{"cpu", "", "alpha"};
const rank_place gpu_a{"cuda", "GPU-aaaa", "alpha"};
const rank_place gpu_b{"cuda", "GPU-bbbb", "beta"};

std::string chosen(const std::vector<rank_place>& places, const std::string& asked,
                   bool nccl = true) {
  auto got = choose_backend(places, asked, nccl);
  return got ? *got : "refused: " + describe(got.error());
}

TEST(collective_backend, nccl_only_where_every_rank_has_a_gpu_of_its_own) {
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "auto"), "nccl");
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "nccl"), "nccl");
  EXPECT_EQ(chosen({gpu_a}, "auto"), "nccl");
  EXPECT_EQ(chosen({cpu, cpu}, "auto"), "gloo");
  EXPECT_EQ(chosen({gpu_a, cpu}, "auto"), "gloo"); // a mix meets in host memory
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "auto", false), "gloo");
  EXPECT_EQ(chosen({gpu_a, gpu_b}, "gloo"), "gloo");
}

TEST(collective_backend, two_ranks_on_one_gpu_are_refused_by_name_unless_over_gloo) {
  const rank_place again{"cuda", "GPU-aaaa", "alpha"};
  for (const char* asked : {"auto", "nccl"}) {
    const auto got = chosen({gpu_b, gpu_a, again}, asked);
    EXPECT_NE(got.find("ranks 1 and 2 are both on GPU GPU-aaaa of alpha"), std::string::npos)
        << got;
    EXPECT_NE(got.find("or average over gloo"), std::string::npos) << got;
  }
  EXPECT_EQ(chosen({gpu_a, again}, "gloo"), "gloo"); // Gloo reduces CUDA tensors through the host
}

TEST(collective_backend, what_cannot_be_met_is_refused_with_the_reason) {
  EXPECT_NE(chosen({gpu_a, cpu}, "nccl").find("rank 1 computes on cpu"), std::string::npos);
  EXPECT_NE(chosen({gpu_a, gpu_b}, "nccl", false).find("this build of llmos has no NCCL"),
            std::string::npos);
  EXPECT_NE(chosen({cpu}, "mpi").find("backend 'mpi' is unknown (auto, nccl or gloo)"),
            std::string::npos);
}

TEST(collective_backend, a_rank_place_reads_back_from_its_text) {
  auto back = rank_place::parse(gpu_b.text());
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->type, "cuda");
  EXPECT_EQ(back->gpu, "GPU-bbbb");
  EXPECT_EQ(back->host, "beta");
  auto plain = rank_place::parse(cpu.text());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->gpu, "");
  EXPECT_FALSE(rank_place::parse("cuda-only"));
}

} // namespace
} // namespace llmos::model
