// Dot products the CUDA decode kernels share: one thread's, summed in order (as the CPU reference
// does), and a warp's over several vectors at once, its lanes reading consecutive columns so that
// every load of a weight row is coalesced and each weight is read once for all of them.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace llmos::kernels {

/// a · b over n floats, summed in order (as the CPU reference does).
__device__ inline float dot(const float* a, const float* b, int n) {
  float acc = 0.0f;
  for (int i = 0; i < n; i++)
    acc += a[i] * b[i];
  return acc;
}

/// For j < n (n <= tile): acc[j] = w_row · x[row j], where row j of x starts at
/// x + (which ? which[first + j] : first + j) * cols. Called by every lane of a warp (lane =
/// threadIdx.x % 32); the sums are complete in lane 0. The columns are split over the lanes, so
/// the sum's order is not the CPU's: the results agree to rounding, not to the bit.
template <int tile>
__device__ inline void warp_dots(const float* w_row, const float* x, int cols, const int32_t* which,
                                 int first, int n, float (&acc)[tile]) {
  const float* rows[tile];
#pragma unroll
  for (int j = 0; j < tile; j++) {
    acc[j] = 0.0f;
    const int64_t row = j < n ? (which != nullptr ? which[first + j] : first + j) : 0;
    rows[j] = x + row * cols;
  }
  for (int c = static_cast<int>(threadIdx.x % 32); c < cols; c += 32) {
    const float w = w_row[c];
#pragma unroll
    for (int j = 0; j < tile; j++)
      if (j < n)
        acc[j] += w * rows[j][c];
  }
#pragma unroll
  for (int j = 0; j < tile; j++)
    for (int offset = 16; offset > 0; offset /= 2)
      acc[j] += __shfl_down_sync(0xffffffffu, acc[j], offset);
}

} // namespace llmos::kernels
