// What the CUDA side of kernels/ can use on this machine, asked at run time: a binary built with
// CUDA runs on a machine without a GPU and falls back to the CPU kernels.
#pragma once

#include <cstdint>
#include <string>

namespace llmos::kernels {

/// True when this build compiled the CUDA kernels.
bool cuda_compiled();

/// Number of usable CUDA devices; 0 without a driver, a device or CUDA support in this build.
int cuda_device_count();

/// Total memory of CUDA device `device` in bytes, 0 if unknown.
uint64_t cuda_device_memory(int device);

/// Free memory of CUDA device `device` in bytes (cudaMemGetInfo: what every process left, the
/// caching allocators' reserves counted as used), 0 if unknown. Makes `device` current on the
/// calling thread.
uint64_t cuda_device_free_memory(int device);

/// CUDA device `device`'s UUID as nvidia-smi prints it ("GPU-…"): the same GPU seen from any
/// process, whatever its index there. "" if unknown.
std::string cuda_device_uuid(int device);

/// NCCL version as "2.28.x", or "" when NCCL is not part of this build.
std::string nccl_version();

} // namespace llmos::kernels
