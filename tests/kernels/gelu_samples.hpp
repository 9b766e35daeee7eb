// Shared inputs and the double-precision reference for the GELU tests.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/gelu.hpp"

namespace llmos::test {

/// The tanh-approximated GELU (GPT-2's) in double precision.
inline double gelu_reference(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/// n normally distributed inputs (seeded), with 0 and the far tails at the front.
inline std::vector<float> sample_inputs(std::size_t n) {
  std::mt19937 rng{42};
  std::normal_distribution<float> dist{0.0f, 3.0f};
  std::vector<float> xs(n);
  for (auto& x : xs)
    x = dist(rng);
  xs[0] = 0.0f;
  xs[1] = -20.0f; // far tails: tanh saturates, result must be ~0 and ~x
  xs[2] = 20.0f;
  return xs;
}

} // namespace llmos::test
