#include "llmos/kernels/gelu.hpp"

#include <cmath>

namespace llmos::kernels {

void gelu_forward_cpu(float* out, const float* in, std::size_t n) {
  // The constant is computed in double once; the loop stays in float so that it vectorises.
  const float scale = static_cast<float>(std::sqrt(2.0 / M_PI));
  for (std::size_t i = 0; i < n; ++i) {
    const float x = in[i];
    const float cube = 0.044715f * x * x * x;
    out[i] = 0.5f * x * (1.0f + std::tanh(scale * (x + cube)));
  }
}

} // namespace llmos::kernels
