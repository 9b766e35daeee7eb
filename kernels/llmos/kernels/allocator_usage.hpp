// What LibTorch's CUDA caching allocator holds on a GPU, for the device actor's view. The
// kernels (and the device actor) know nothing of LibTorch: the model library, when its LibTorch
// has CUDA, registers a reader at load (engine.cpp); until then, and on a CPU-only LibTorch,
// every figure is 0. cudaMemGetInfo alone counts the allocator's cached blocks as used, so it
// cannot tell memory in tensors from memory kept for reuse.
#pragma once

#include <cstdint>

namespace llmos::kernels {

struct allocator_usage {
  uint64_t allocated_bytes = 0; ///< in live tensors
  uint64_t reserved_bytes = 0;  ///< taken from the GPU by the allocator, allocated ones included
};

using allocator_usage_reader = allocator_usage (*)(int device);

/// Sets the reader (thread-safe; the last one set wins).
void set_allocator_usage_reader(allocator_usage_reader reader);

/// What the registered reader says for GPU `device`; zeros without one.
allocator_usage allocator_usage_of(int device);

} // namespace llmos::kernels
