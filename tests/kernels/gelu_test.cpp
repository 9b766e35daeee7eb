// GELU's CPU reference against known values and a double-precision reference.
#include "gelu_samples.hpp"

namespace {

using llmos::test::gelu_reference;
using llmos::test::sample_inputs;

TEST(gelu_cpu, matches_known_values) {
  const std::vector<float> in{0.0f, 1.0f, -1.0f, 2.0f, -3.0f};
  std::vector<float> out(in.size());
  llmos::kernels::gelu_forward_cpu(out.data(), in.data(), in.size());
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 0.841192f, 1e-5);
  EXPECT_NEAR(out[2], -0.158808f, 1e-5);
  EXPECT_NEAR(out[3], 1.954598f, 1e-5);
  EXPECT_NEAR(out[4], -0.003637f, 1e-5);
}

TEST(gelu_cpu, matches_double_precision_reference_on_random_inputs) {
  auto in = sample_inputs(10000);
  std::vector<float> out(in.size());
  llmos::kernels::gelu_forward_cpu(out.data(), in.data(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_NEAR(out[i], gelu_reference(in[i]),
                1e-5 * std::max(1.0, std::fabs(static_cast<double>(in[i]))))
        << "at x=" << in[i];
}

TEST(gelu_cpu, works_in_place) {
  std::vector<float> xs{1.0f, -1.0f};
  llmos::kernels::gelu_forward_cpu(xs.data(), xs.data(), xs.size());
  EXPECT_NEAR(xs[0], 0.841192f, 1e-5);
  EXPECT_NEAR(xs[1], -0.158808f, 1e-5);
}

} // namespace
