// GELU's CUDA kernel against the CPU reference (label gpu; skipped when no GPU is usable).
#include "gelu_samples.hpp"

namespace {

using llmos::test::sample_inputs;

TEST(gelu_cuda, reports_why_it_cannot_run_without_a_gpu) {
  if (llmos::kernels::cuda_device_count() > 0)
    GTEST_SKIP() << "a GPU is present; covered by gelu_cuda_gpu";
  std::vector<float> in{1.0f};
  std::vector<float> out(1);
  auto err = llmos::kernels::gelu_forward_cuda(out.data(), in.data(), 1, 0);
  EXPECT_FALSE(err.empty()) << "without a GPU the CUDA path must say why it failed";
}

TEST(gelu_cuda_gpu, matches_cpu_reference) {
  if (llmos::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device on this machine";
  for (std::size_t n : {std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{1} << 20}) {
    auto in = sample_inputs(std::max<std::size_t>(n, 3));
    in.resize(n);
    std::vector<float> cpu(n);
    std::vector<float> gpu(n);
    llmos::kernels::gelu_forward_cpu(cpu.data(), in.data(), n);
    auto err = llmos::kernels::gelu_forward_cuda(gpu.data(), in.data(), n, 0);
    ASSERT_TRUE(err.empty()) << err;
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_NEAR(gpu[i], cpu[i], 1e-5 * std::max(1.0f, std::fabs(in[i])))
          << "n=" << n << " i=" << i;
  }
}

TEST(gelu_cuda_gpu, nccl_is_linked) {
  if (!llmos::kernels::cuda_compiled())
    GTEST_SKIP() << "built without CUDA";
  EXPECT_FALSE(llmos::kernels::nccl_version().empty());
}

} // namespace
