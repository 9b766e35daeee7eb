// Error plumbing for the CUDA kernels: a CUDA call that fails returns its error name and line
// to the caller (a device actor turns it into a kernel_failed error); nothing aborts.
#pragma once

#include <string>

#include <cuda_runtime.h>

#define LLMOS_CUDA_TRY(expr)                                                                       \
  do {                                                                                             \
    const cudaError_t llmos_cuda_status = (expr);                                                  \
    if (llmos_cuda_status != cudaSuccess) {                                                        \
      cudaGetLastError(); /* a handled error must not surface in LibTorch's next launch check */   \
      return std::string{#expr} + " failed at " __FILE__ ":" + std::to_string(__LINE__) + ": " +   \
             cudaGetErrorName(llmos_cuda_status) + " (" + cudaGetErrorString(llmos_cuda_status) +  \
             ")";                                                                                  \
    }                                                                                              \
  } while (false)

namespace llmos::kernels {

/// Frees a device buffer when a kernel wrapper returns early.
struct cuda_buffer_guard {
  void* ptr;
  ~cuda_buffer_guard() {
    if (ptr != nullptr)
      cudaFree(ptr);
  }
};

} // namespace llmos::kernels
