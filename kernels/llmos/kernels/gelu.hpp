// GELU forward (tanh approximation, as GPT-2 uses it): the first kernel with a CPU reference
// and a CUDA version, so both build paths are exercised from the start. Only device actors
// call kernels; the CUDA entry point exists in every build and reports when it was not compiled.
#pragma once

#include <cstddef>
#include <string>

namespace llmos::kernels {

/// out[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); out may alias in.
void gelu_forward_cpu(float* out, const float* in, std::size_t n);

/// Same on CUDA device `device`, from host memory to host memory. Returns "" on success, else
/// what went wrong (no device, not compiled with CUDA, a CUDA error with its name).
std::string gelu_forward_cuda(float* out, const float* in, std::size_t n, int device);

} // namespace llmos::kernels
