// The vector primitives of the fast decode step (llama_decode.cpp): dot products with one partial
// sum per lane added up in a fixed order, the batched matmul, a vector exp and softmax,
// attention over cached runs, the LoRA delta and SwiGLU. Templates over the vector width L, all
// forced inline, so that each of the decode step's builds (4 and 8 floats wide, see there)
// compiles them for its own target. Internal to the kernels library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "llmos/kernels/llama_decode.hpp"

#define LLMOS_INLINE inline __attribute__((always_inline))

namespace llmos::kernels::simd_detail {

/// A vector of L floats (and of L int32s): one register of the target the code is compiled
/// for, 4 for SSE2/NEON, 8 for AVX2. (GCC ignores vector_size on an alias template, hence the
/// struct.)
template <int L> struct simd;
template <> struct simd<4> {
  using vec = float __attribute__((vector_size(16)));
  using ivec = int32_t __attribute__((vector_size(16)));
};
template <> struct simd<8> {
  using vec = float __attribute__((vector_size(32)));
  using ivec = int32_t __attribute__((vector_size(32)));
};
template <int L> using vec = typename simd<L>::vec;

// Vectors are passed by reference only: a 32-byte vector by value is an ABI the SSE2 version
// of the code does not share.
template <int L> LLMOS_INLINE void load(vec<L>& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
template <int L> LLMOS_INLINE void store(float* p, const vec<L>& v) {
  std::memcpy(p, &v, sizeof v);
}
template <int L> LLMOS_INLINE void splat(vec<L>& v, float value) {
  for (int l = 0; l < L; ++l)
    v[l] = value;
}

/// The sum of a's lanes, pairwise: ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
template <int L> LLMOS_INLINE float sum_lanes(const vec<L>& a) {
  if constexpr (L == 4)
    return (a[0] + a[1]) + (a[2] + a[3]);
  else
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/// out[r] = sum_lanes(acc[r]) for L accumulators at once, with the same additions in the same
/// order, by rounds of pairwise adds on interleaved lanes (a transpose that adds as it goes)
/// instead of L separate horizontal sums.
template <int L> LLMOS_INLINE void sum_lanes_each(vec<L> (&acc)[L], float* out) {
  if constexpr (L == 4) {
    vec<4> p[2];
    for (int i = 0; i < 2; ++i)
      p[i] = __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 0, 4, 2, 6) +
             __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 1, 5, 3, 7);
    store<4>(out, __builtin_shufflevector(p[0], p[1], 0, 1, 4, 5) +
                      __builtin_shufflevector(p[0], p[1], 2, 3, 6, 7));
  } else {
    vec<8> p[4], q[2];
    for (int i = 0; i < 4; ++i)
      p[i] = __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
             __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int i = 0; i < 2; ++i)
      q[i] = __builtin_shufflevector(p[2 * i], p[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
             __builtin_shufflevector(p[2 * i], p[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    store<8>(out, __builtin_shufflevector(q[0], q[1], 0, 1, 2, 3, 8, 9, 10, 11) +
                      __builtin_shufflevector(q[0], q[1], 4, 5, 6, 7, 12, 13, 14, 15));
  }
}

/// out[r] = w[r * stride, r * stride + cols) · x for the L rows r of w that start `stride` apart.
template <int L>
LLMOS_INLINE void dot_rows(const float* __restrict w, int64_t stride, int64_t cols,
                           const float* __restrict x, float* __restrict out) {
  vec<L> acc[L] = {};
  int64_t c = 0;
  for (; c + L <= cols; c += L) {
    vec<L> xv;
    load<L>(xv, x + c);
#pragma GCC unroll 8
    for (int r = 0; r < L; ++r) {
      vec<L> wv;
      load<L>(wv, w + r * stride + c);
      acc[r] += wv * xv;
    }
  }
  sum_lanes_each<L>(acc, out);
  for (int r = 0; r < L; ++r)
    for (int64_t t = c; t < cols; ++t)
      out[r] += w[r * stride + t] * x[t];
}

/// w[0, cols) · x, with the arithmetic of one row of dot_rows.
template <int L>
LLMOS_INLINE float dot(const float* __restrict w, int64_t cols, const float* __restrict x) {
  vec<L> acc = {};
  int64_t c = 0;
  for (; c + L <= cols; c += L) {
    vec<L> xv, wv;
    load<L>(xv, x + c);
    load<L>(wv, w + c);
    acc += wv * xv;
  }
  float s = sum_lanes<L>(acc);
  for (; c < cols; ++c)
    s += w[c] * x[c];
  return s;
}

/// out[b, r] = w[r, :] · x[b, :] for every item b: w [rows, cols] row-major, x [batch, cols],
/// out [batch, rows]. The loop over items sits inside the loop over row blocks, so each weight
/// is fetched from memory once per call.
template <int L>
LLMOS_INLINE void matmul_batch(float* __restrict out, const float* __restrict x,
                               const float* __restrict w, int64_t batch, int64_t cols,
                               int64_t rows) {
  int64_t r = 0;
  for (; r + L <= rows; r += L)
    for (int64_t b = 0; b < batch; ++b)
      dot_rows<L>(w + r * cols, cols, cols, x + b * cols, out + b * rows + r);
  for (; r < rows; ++r)
    for (int64_t b = 0; b < batch; ++b)
      out[b * rows + r] = dot<L>(w + r * cols, cols, x + b * cols);
}

/// e^x for each lane, within about 1 ulp of the true value for x in [-87.3, 88]; below, the
/// result stays at about 1e-38 instead of falling to 0, above it stays finite (about 1.6e38).
/// One libm call per attention score cost as much as the rest of attention; this is Cephes' expf
/// (x = n ln2 + r, a degree-6 polynomial for e^r, 2^n put into the exponent) on whole vectors.
template <int L> LLMOS_INLINE void exp_lanes(vec<L>& x) {
  using ivec = typename simd<L>::ivec;
  const float lowest = -87.3f, highest = 88.0f;
  x = x < lowest ? lowest : x;
  x = x > highest ? highest : x;
  // Rounds x / ln2 to the nearest integer: adding 1.5 * 2^23 leaves no bits below the point.
  const float round = 12582912.0f;
  const vec<L> n = (x * 1.44269504088896341f + round) - round;
  const vec<L> r = (x - n * 0.693359375f) - n * -2.12194440e-4f; // ln2 in two parts
  vec<L> p = 1.9875691500e-4f * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const ivec bits = (__builtin_convertvector(n, ivec) + 127) << 23; // 2^n, as a float's bits
  vec<L> two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  x = p * two_n;
}

/// x = softmax(x * scale) over size entries.
template <int L> LLMOS_INLINE void scaled_softmax(float* x, int64_t size, float scale) {
  vec<L> m;
  splat<L>(m, std::numeric_limits<float>::lowest());
  int64_t i = 0;
  for (; i + L <= size; i += L) {
    vec<L> v;
    load<L>(v, x + i);
    v *= scale;
    store<L>(x + i, v);
    m = v > m ? v : m;
  }
  float max_val = m[0];
  for (int l = 1; l < L; ++l)
    max_val = std::max(max_val, m[l]);
  for (int64_t t = i; t < size; ++t) {
    x[t] *= scale;
    max_val = std::max(max_val, x[t]);
  }

  vec<L> sums = {};
  for (i = 0; i + L <= size; i += L) {
    vec<L> v;
    load<L>(v, x + i);
    v -= max_val;
    exp_lanes<L>(v);
    store<L>(x + i, v);
    sums += v;
  }
  float sum = sum_lanes<L>(sums);
  if (i < size) {
    // The last few entries take the same vector exp, in lanes padded with the maximum.
    vec<L> v;
    splat<L>(v, max_val);
    for (int64_t l = 0; l < size - i; ++l)
      v[l] = x[i + l];
    v -= max_val;
    exp_lanes<L>(v);
    for (int64_t l = 0; l < size - i; ++l) {
      x[i + l] = v[l];
      sum += v[l];
    }
  }
  const float inv = 1.0f / sum;
  for (i = 0; i < size; ++i)
    x[i] *= inv;
}

/// One item's attention over its cached positions [0, pos] of one layer (see attention in
/// llama_decode.cpp). The positions come in runs that are contiguous in memory (one run for a dense
/// cache, one per block for a paged one); every score and every weighted-value sum is computed by
/// the same instructions in the same order whatever the runs, so paging never changes a result.
template <int L>
LLMOS_INLINE void attend(float* __restrict out, const float* __restrict q, const float* key_layer,
                         const float* value_layer, const llama_kv_view& cache,
                         float* __restrict att, int64_t pos, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_size) {
  const int64_t kv_dim = n_kv_heads * head_size, kv_mul = n_heads / n_kv_heads, len = pos + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_size));
  const int64_t run = cache.blocks == nullptr ? len : cache.block_size;

  // Positions outside, heads inside: a small model's head is a fraction of a cache line (8
  // floats for stories260K), so walking the cache once, position by position, reads each line
  // once instead of once per head. Scores come L positions at a time: for one head, their keys
  // are L rows kv_dim apart.
  for (int64_t start = 0; start < len; start += run) {
    const int64_t end = std::min(len, start + run);
    const float* keys = key_layer + llama_kv_offset(cache, start, kv_dim); // position start
    int64_t t = start;
    for (; t + L <= end; t += L)
      for (int64_t h = 0; h < n_heads; ++h)
        dot_rows<L>(keys + (t - start) * kv_dim + (h / kv_mul) * head_size, kv_dim, head_size,
                    q + h * head_size, att + h * len + t);
    for (; t < end; ++t)
      for (int64_t h = 0; h < n_heads; ++h)
        att[h * len + t] = dot<L>(keys + (t - start) * kv_dim + (h / kv_mul) * head_size, head_size,
                                  q + h * head_size);
  }

  for (int64_t h = 0; h < n_heads; ++h)
    scaled_softmax<L>(att + h * len, len, scale);

  // The weighted values, four positions at a time for every head and L dims at a time; the
  // heads' outputs are independent sums, so they keep the multiply-add units busy between them.
  std::fill(out, out + n_heads * head_size, 0.0f);
  for (int64_t start = 0; start < len; start += run) {
    const int64_t end = std::min(len, start + run);
    const float* values = value_layer + llama_kv_offset(cache, start, kv_dim);
    for (int64_t t = start; t < end; t += 4) {
      const int64_t n = std::min<int64_t>(4, end - t);
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* a = att + h * len + t;
        const float* vt = values + (t - start) * kv_dim + (h / kv_mul) * head_size;
        float* o = out + h * head_size;
        int64_t i = 0;
        for (; i + L <= head_size; i += L) {
          vec<L> acc;
          load<L>(acc, o + i);
          for (int64_t u = 0; u < n; ++u) {
            vec<L> vv;
            load<L>(vv, vt + u * kv_dim + i);
            acc += a[u] * vv;
          }
          store<L>(o + i, acc);
        }
        for (; i < head_size; ++i)
          for (int64_t u = 0; u < n; ++u)
            o[i] += a[u] * vt[u * kv_dim + i];
      }
    }
  }
}

/// out += scale * B (A x) for one item (see add_lora in llama_decode.cpp); t holds A x.
template <int L>
LLMOS_INLINE void lora_delta(float* __restrict out, const float* __restrict x,
                             const llama_lora& lora, float scale, int64_t cols, int64_t rows,
                             float* __restrict t) {
  for (int64_t r = 0; r < lora.rank; ++r)
    t[r] = dot<L>(lora.a + r * cols, cols, x);
  for (int64_t o = 0; o < rows; ++o)
    out[o] += scale * dot<L>(lora.b + o * lora.rank, lora.rank, t);
}

/// hb = silu(hb) * up over one item's n entries (see swiglu_item in llama_decode.cpp).
template <int L>
LLMOS_INLINE void swiglu(float* __restrict hb, const float* __restrict up, int64_t n) {
  for (int64_t i = 0; i < n; i += L) {
    const int64_t m = std::min<int64_t>(L, n - i);
    vec<L> g = {}, u = {};
    if (m == L) {
      load<L>(g, hb + i);
      load<L>(u, up + i);
    } else {
      for (int64_t l = 0; l < m; ++l) {
        g[l] = hb[i + l];
        u[l] = up[i + l];
      }
    }
    vec<L> e = -g;
    exp_lanes<L>(e);
    const vec<L> out = g / (1.0f + e) * u;
    if (m == L)
      store<L>(hb + i, out);
    else
      for (int64_t l = 0; l < m; ++l)
        hb[i + l] = out[l];
  }
}

} // namespace llmos::kernels::simd_detail
