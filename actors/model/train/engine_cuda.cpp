// What an engine needs of LibTorch's CUDA half, apart from the tensors: running a job's work on
// its device's stream, and telling the device actor what the caching allocator holds. Compiled
// to nothing where the LibTorch has no CUDA (Debian's: headers, no libc10_cuda).
#include "model/train/engine.hpp"

#if LLMOS_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "llmos/kernels/allocator_usage.hpp"
#endif

namespace llmos::model {

#if LLMOS_TORCH_CUDA
struct engine::stream_scope::guard {
  explicit guard(c10::cuda::CUDAStream s) : on(s) {}
  c10::cuda::CUDAStreamGuard on;
};

namespace {

/// The caching allocator's figures for one GPU; zeros before LibTorch first used it (it then
/// has no allocator for the device and says so by throwing).
kernels::allocator_usage cuda_allocator_usage(int device) {
  try {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    // Index 0 of each StatArray is StatType::AGGREGATE (every pool), in LibTorch 1.13 and 2.x.
    return {static_cast<uint64_t>(stats.allocated_bytes[0].current),
            static_cast<uint64_t>(stats.reserved_bytes[0].current)};
  } catch (const std::exception&) {
    return {};
  }
}

// Registered when the program loads: this file is linked wherever a job can run under a stream.
[[maybe_unused]] const bool allocator_usage_registered =
    (kernels::set_allocator_usage_reader(&cuda_allocator_usage), true);

} // namespace
#else
struct engine::stream_scope::guard {};
#endif

engine::stream_scope::stream_scope(void* stream, int cuda_index) {
#if LLMOS_TORCH_CUDA
  if (stream != nullptr)
    guard_ = std::make_unique<guard>(c10::cuda::getStreamFromExternal(
        static_cast<cudaStream_t>(stream), static_cast<c10::DeviceIndex>(cuda_index)));
#else
  (void)stream;
  (void)cuda_index;
#endif
}

engine::stream_scope::~stream_scope() = default;

} // namespace llmos::model
