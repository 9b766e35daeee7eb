#include "llmos/kernels/cuda_info.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

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

std::string cuda_device_uuid(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    return {};
  // nvidia-smi's form: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  static const char* hex = "0123456789abcdef";
  std::string out = "GPU-";
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    const auto b = static_cast<unsigned char>(prop.uuid.bytes[i]);
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
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
