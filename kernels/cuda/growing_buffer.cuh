// A buffer that grows to what a step asks (in device or pinned host memory), shared by the CUDA
// decode step's pieces: its contents are not kept when it grows, it at least doubles so that
// steps of slowly rising size do not reallocate each time, and it frees itself.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include <cuda_runtime.h>

#include "cuda/check.cuh"

namespace llmos::kernels {

/// A buffer of T that grows to what is asked (contents not kept), in device or pinned memory.
template <class T, bool pinned> struct growing {
  T* ptr = nullptr;
  std::size_t capacity = 0;

  growing() = default;
  growing(const growing&) = delete; // one owner frees the memory
  growing& operator=(const growing&) = delete;

  std::string reserve(std::size_t n) {
    if (n <= capacity)
      return {};
    const std::size_t want = std::max(n, 2 * capacity);
    release();
    void* got = nullptr;
    if constexpr (pinned)
      LLMOS_CUDA_TRY(cudaMallocHost(&got, want * sizeof(T)));
    else
      LLMOS_CUDA_TRY(cudaMalloc(&got, want * sizeof(T)));
    ptr = static_cast<T*>(got);
    capacity = want;
    return {};
  }
  void release() {
    if (ptr != nullptr) {
      if constexpr (pinned)
        cudaFreeHost(ptr);
      else
        cudaFree(ptr);
    }
    ptr = nullptr;
    capacity = 0;
  }
  ~growing() { release(); }
};

} // namespace llmos::kernels
