#include "llmos/kernels/cuda_stream.hpp"

#include <cuda_runtime.h>

#include "cuda/check.cuh"

namespace llmos::kernels {

std::string cuda_stream::create(int device, bool blocking, std::unique_ptr<cuda_stream>* out) {
  // The calling thread (a node manager spawning device actors) keeps its current device.
  int before = 0;
  LLMOS_CUDA_TRY(cudaGetDevice(&before));
  LLMOS_CUDA_TRY(cudaSetDevice(device));
  cudaStream_t s = nullptr;
  const auto made =
      cudaStreamCreateWithFlags(&s, blocking ? cudaStreamDefault : cudaStreamNonBlocking);
  cudaSetDevice(before);
  LLMOS_CUDA_TRY(made);
  out->reset(new cuda_stream(s, device));
  return {};
}

cuda_stream::~cuda_stream() {
  cudaSetDevice(device_);
  auto s = static_cast<cudaStream_t>(handle_);
  cudaStreamSynchronize(s); // work still queued on it finishes before it goes
  cudaStreamDestroy(s);
}

} // namespace llmos::kernels
