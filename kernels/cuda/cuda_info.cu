#include "llmos/kernels/cuda_info.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

namespace llmos::kernels {

bool cuda_compiled() {
  return true;
}

int cuda_device_count() {
  int count = 0;
  // Without a driver this returns cudaErrorInsufficientDriver: that is "no GPU", not a failure.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError(); // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

uint64_t cuda_device_memory(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    return 0;
  return prop.totalGlobalMem;
}

uint64_t cuda_device_free_memory(int device) {
  std::size_t free = 0, total = 0;
  if (cudaSetDevice(device) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess)
    return 0;
  return free;
}

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess)
    return {};
  // NCCL >= 2.9 encodes the version as major*10000 + minor*100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." +
         std::to_string(v % 100);
}

} // namespace llmos::kernels
