// The fast decode step. Activations are kept item-major ([batch][features]) in one scratch buffer,
// and every matrix is applied to the whole batch at once: a block of weight rows is loaded into
// L1 and dotted with each item's vector before the next block, so a step reads each weight once
// however many sequences it carries. Norms, rotary and attention are per item; for a model as
// small as stories260K, attention over a few hundred positions costs as much as the matrices, so
// it is vectorised too (scores, a vector exp for the softmax, the weighted values).
//
// No -ffast-math: GCC may not reassociate a float sum, so a plain dot product stays scalar. The
// dots below keep one partial sum per vector lane (GCC/Clang vector types, no intrinsics) and add
// the lanes up in a fixed order. Each (row, item) sum is computed by the same instructions in the
// same order whatever the batch, so an item's logits do not depend on who else is in the batch.
#include "llmos/kernels/llama_decode.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

#define LLMOS_INLINE inline __attribute__((always_inline))

namespace llmos::kernels {
namespace {

/// Offsets (in floats) of each activation in scratch.buf for a batch; all item-major.
struct scratch_layout {
  int64_t x, xb, xb2, q, k, v, hb, hb2, att, rope, logits, total;

  scratch_layout(const llama_decode_weights& w, int64_t batch) {
    const int64_t head_size = w.dim / w.n_heads;
    const int64_t kv_dim = head_size * w.n_kv_heads;
    int64_t at = 0;
    // Rounded to 16 floats so that every array starts on its own 64-byte line.
    auto take = [&at](int64_t n) {
      const int64_t start = at;
      at += (n + 15) / 16 * 16;
      return start;
    };
    x = take(batch * w.dim);
    xb = take(batch * w.dim);
    xb2 = take(batch * w.dim);
    q = take(batch * w.dim);
    k = take(batch * kv_dim);
    v = take(batch * kv_dim);
    hb = take(batch * w.hidden_dim);
    hb2 = take(batch * w.hidden_dim);
    att = take(int64_t{w.n_heads} * w.seq_len); // one item's scores at a time
    rope = take(batch * head_size);             // (cos, sin) per rotary pair and item
    logits = take(batch * w.vocab_size);
    total = at;
  }
};

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

/// One item's attention over its cached positions [0, pos] of one layer (see attention below).
/// The positions come in runs that are contiguous in memory (one run for a dense cache, one
/// per block for a paged one); every score and every weighted-value sum is computed by the same
/// instructions in the same order whatever the runs, so paging never changes a result.
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

/// out += scale * B (A x) for one item (see add_lora below); t holds A x.
template <int L>
LLMOS_INLINE void lora_delta(float* __restrict out, const float* __restrict x,
                             const llama_lora& lora, float scale, int64_t cols, int64_t rows,
                             float* __restrict t) {
  for (int64_t r = 0; r < lora.rank; ++r)
    t[r] = dot<L>(lora.a + r * cols, cols, x);
  for (int64_t o = 0; o < rows; ++o)
    out[o] += scale * dot<L>(lora.b + o * lora.rank, lora.rank, t);
}

/// hb = silu(hb) * up over one item's n entries (see swiglu_item below).
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

// The hot loops come in two builds, picked once at load time (GCC's function multiversioning,
// an ifunc): 8-float vectors with FMA where the CPU has AVX2 and FMA (2013 on), 4-float vectors
// otherwise. One binary thus runs on every x86-64 and uses the wide units where they exist. A
// single build of 8-float vectors would not do: where registers are 4 floats wide, GCC splits
// each vector operation in two and keeps the accumulators in memory (measured 2-4x slower).
// Other compilers and targets get the 4-float build (clang 14 takes the versions but warns that
// they are unused). GCC's ThreadSanitizer build gets it too: it instruments the load-time
// resolver, which would run before the TSan runtime is up and crash the program before main.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_THREAD__)
#define LLMOS_DEFAULT_BUILD __attribute__((target("default")))
#define LLMOS_WIDE_BUILD __attribute__((target("avx2,fma")))
#define LLMOS_WIDE 1
#else
#define LLMOS_DEFAULT_BUILD
#endif

/// Matrix times every item's vector (see matmul_batch above).
LLMOS_DEFAULT_BUILD void matmul(float* out, const float* x, const float* w, int64_t batch,
                                int64_t cols, int64_t rows) {
  matmul_batch<4>(out, x, w, batch, cols, rows);
}

/// Attention of one item's query heads q [n_heads * head_size] over its cached positions
/// [0, pos] of one layer (whose keys and values start at key_layer and value_layer, laid out as
/// `cache` says); writes the heads' outputs to out [n_heads * head_size]; att holds
/// n_heads * (pos + 1) scores. Query head h reads kv head h / (n_heads / n_kv_heads).
LLMOS_DEFAULT_BUILD void attention(float* out, const float* q, const float* key_layer,
                                   const float* value_layer, const llama_kv_view& cache, float* att,
                                   int64_t pos, int64_t n_heads, int64_t n_kv_heads,
                                   int64_t head_size) {
  attend<4>(out, q, key_layer, value_layer, cache, att, pos, n_heads, n_kv_heads, head_size);
}

/// hb = silu(hb) * up over one item's n entries: the SwiGLU between the up and down projections.
/// Called per item, not over the whole batch at once: with n not a multiple of the vector width,
/// an item's entries would otherwise fall differently into vectors depending on its place in the
/// batch. The last few entries go through a partly filled vector, so all take the same exp.
LLMOS_DEFAULT_BUILD void swiglu_item(float* hb, const float* up, int64_t n) {
  swiglu<4>(hb, up, n);
}

/// out += scale * B (A x) for one item's adapter of one linear layer. Per item, after the base
/// matmul of the whole batch: an adapter costs rank * (in + out) multiply-adds per item against
/// the base's in * out, and an item's sum never depends on the other items.
LLMOS_DEFAULT_BUILD void add_lora(float* out, const float* x, const llama_lora& lora, float scale,
                                  int64_t cols, int64_t rows, float* t) {
  lora_delta<4>(out, x, lora, scale, cols, rows, t);
}

#ifdef LLMOS_WIDE
LLMOS_WIDE_BUILD void add_lora(float* out, const float* x, const llama_lora& lora, float scale,
                               int64_t cols, int64_t rows, float* t) {
  lora_delta<8>(out, x, lora, scale, cols, rows, t);
}
LLMOS_WIDE_BUILD void matmul(float* out, const float* x, const float* w, int64_t batch,
                             int64_t cols, int64_t rows) {
  matmul_batch<8>(out, x, w, batch, cols, rows);
}
LLMOS_WIDE_BUILD void attention(float* out, const float* q, const float* key_layer,
                                const float* value_layer, const llama_kv_view& cache, float* att,
                                int64_t pos, int64_t n_heads, int64_t n_kv_heads,
                                int64_t head_size) {
  attend<8>(out, q, key_layer, value_layer, cache, att, pos, n_heads, n_kv_heads, head_size);
}
LLMOS_WIDE_BUILD void swiglu_item(float* hb, const float* up, int64_t n) {
  swiglu<8>(hb, up, n);
}
#endif

/// o = x * weight / sqrt(mean(x²) + eps); o may alias x.
void rmsnorm(float* o, const float* x, const float* weight, int64_t size, float eps) {
  const float scale = 1.0f / std::sqrt(dot<4>(x, size, x) / static_cast<float>(size) + eps);
  for (int64_t i = 0; i < size; ++i)
    o[i] = weight[i] * (scale * x[i]);
}

/// Rotates each pair (2j, 2j+1) of every head in vec [n_heads * head_size] by the angles whose
/// (cos, sin) are rope[2j], rope[2j+1].
void rotate(float* vec, const float* rope, int64_t n_heads, int64_t head_size) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = vec + h * head_size;
    for (int64_t i = 0; i < head_size; i += 2) {
      const float c = rope[i], s = rope[i + 1];
      const float v0 = v[i], v1 = v[i + 1];
      v[i] = v0 * c - v1 * s;
      v[i + 1] = v0 * s + v1 * c;
    }
  }
}

void add(float* __restrict x, const float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    x[i] += y[i];
}

/// Adds each item's adapter of one linear layer (picked by `which`) to that item's output row
/// out[b] (`rows` floats) of input x[b] (`cols` floats); items without one are left as they are.
void add_adapters(float* out, const float* x, int64_t batch, int64_t cols, int64_t rows,
                  const llama_adapter_weights* const* adapters, int32_t layer,
                  llama_lora llama_block_adapter::*which, float* t) {
  if (adapters == nullptr)
    return;
  for (int64_t b = 0; b < batch; ++b) {
    const llama_adapter_weights* a = adapters[b];
    if (a == nullptr)
      continue;
    const llama_lora& lora = a->blocks[layer].*which;
    if (lora.a != nullptr)
      add_lora(out + b * rows, x + b * cols, lora, a->scale, cols, rows, t);
  }
}

} // namespace

void llama_decode_scratch::reserve(const llama_decode_weights& w, int32_t batch) {
  const auto need = static_cast<std::size_t>(scratch_layout(w, batch).total);
  if (buf.size() < need)
    buf.resize(need);
}

namespace {

/// Room in scratch.low_rank for the largest adapter rank of the batch.
void reserve_low_rank(llama_decode_scratch& scratch, const llama_adapter_weights* const* adapters,
                      int32_t count) {
  if (adapters == nullptr)
    return;
  for (int32_t b = 0; b < count; ++b)
    if (adapters[b] != nullptr)
      for (const auto& block : adapters[b]->blocks)
        for (auto* l :
             {&block.wq, &block.wk, &block.wv, &block.wo, &block.w1, &block.w2, &block.w3})
          if (scratch.low_rank.size() < static_cast<std::size_t>(l->rank))
            scratch.low_rank.resize(static_cast<std::size_t>(l->rank));
}

/// Each item's token embedding into x, and the rotary angles of its position into rope.
void embed(const llama_decode_weights& w, const llama_decode_item* items, int64_t n, float* x,
           float* rope) {
  const int64_t dim = w.dim, head_size = dim / w.n_heads;
  for (int64_t b = 0; b < n; ++b) {
    const llama_decode_item& it = items[b];
    assert(it.token >= 0 && it.token < w.vocab_size && it.pos >= 0 && it.pos < w.seq_len);
    std::memcpy(x + b * dim, w.embedding + int64_t{it.token} * dim, dim * sizeof(float));
    // The angles depend only on the position: computed once per step, not per layer and head,
    // and with the reference's exact float expressions so that they agree to the last bit.
    for (int64_t i = 0; i < head_size; i += 2) {
      const float freq =
          1.0f / std::pow(w.rope_theta, static_cast<float>(i) / static_cast<float>(head_size));
      const float val = static_cast<float>(it.pos) * freq;
      rope[b * head_size + i] = std::cos(val);
      rope[b * head_size + i + 1] = std::sin(val);
    }
  }
}

/// The final norm and the classifier for the items that want logits (a prefill chunk wants them
/// for its last position at most): their rows are packed to the front of x first.
void classify(const llama_decode_weights& w, llama_decode_item* items, int64_t n, float* x,
              float* logits) {
  const int64_t dim = w.dim;
  int64_t wanted = 0;
  for (int64_t b = 0; b < n; ++b) {
    if (items[b].logits == nullptr)
      continue;
    if (wanted != b)
      std::memcpy(x + wanted * dim, x + b * dim, dim * sizeof(float));
    rmsnorm(x + wanted * dim, x + wanted * dim, w.final_norm, dim, w.norm_eps);
    ++wanted;
  }
  matmul(logits, x, w.classifier, wanted, dim, w.vocab_size);
  for (int64_t b = 0, row = 0; b < n; ++b)
    if (items[b].logits != nullptr)
      std::memcpy(items[b].logits, logits + row++ * w.vocab_size, w.vocab_size * sizeof(float));
}

} // namespace

void llama_decode(const llama_decode_weights& w, llama_decode_item* items, int32_t count,
                  llama_decode_scratch& scratch, const llama_adapter_weights* const* adapters) {
  if (count <= 0)
    return;
  scratch.reserve(w, count); // grows only the first time a batch this large comes
  reserve_low_rank(scratch, adapters, count);
  float* t = scratch.low_rank.data();
  const scratch_layout at(w, count);
  float* s = scratch.buf.data();
  float *x = s + at.x, *xb = s + at.xb, *xb2 = s + at.xb2, *q = s + at.q, *k = s + at.k,
        *v = s + at.v, *hb = s + at.hb, *hb2 = s + at.hb2, *att = s + at.att, *rope = s + at.rope;
  const int64_t dim = w.dim, hidden = w.hidden_dim, n = count;
  const int64_t head_size = dim / w.n_heads, kv_dim = head_size * w.n_kv_heads;

  embed(w, items, n, x, rope);

  for (int32_t l = 0; l < w.n_layers; ++l) {
    const llama_block_weights& bw = w.blocks[l];
    for (int64_t b = 0; b < n; ++b)
      rmsnorm(xb + b * dim, x + b * dim, bw.attn_norm, dim, w.norm_eps);
    matmul(q, xb, bw.wq, n, dim, dim);
    matmul(k, xb, bw.wk, n, dim, kv_dim);
    matmul(v, xb, bw.wv, n, dim, kv_dim);
    add_adapters(q, xb, n, dim, dim, adapters, l, &llama_block_adapter::wq, t);
    add_adapters(k, xb, n, dim, kv_dim, adapters, l, &llama_block_adapter::wk, t);
    add_adapters(v, xb, n, dim, kv_dim, adapters, l, &llama_block_adapter::wv, t);

    for (int64_t b = 0; b < n; ++b) {
      const llama_decode_item& it = items[b];
      const int64_t pos = it.pos;
      float* key_layer = it.cache.k + l * it.cache.layer_stride;
      float* value_layer = it.cache.v + l * it.cache.layer_stride;
      const int64_t at_pos = llama_kv_offset(it.cache, pos, kv_dim);
      rotate(q + b * dim, rope + b * head_size, w.n_heads, head_size);
      rotate(k + b * kv_dim, rope + b * head_size, w.n_kv_heads, head_size);
      std::memcpy(key_layer + at_pos, k + b * kv_dim, kv_dim * sizeof(float));
      std::memcpy(value_layer + at_pos, v + b * kv_dim, kv_dim * sizeof(float));
      attention(xb + b * dim, q + b * dim, key_layer, value_layer, it.cache, att, pos, w.n_heads,
                w.n_kv_heads, head_size);
    }

    matmul(xb2, xb, bw.wo, n, dim, dim);
    add_adapters(xb2, xb, n, dim, dim, adapters, l, &llama_block_adapter::wo, t);
    add(x, xb2, n * dim);

    for (int64_t b = 0; b < n; ++b)
      rmsnorm(xb + b * dim, x + b * dim, bw.ffn_norm, dim, w.norm_eps);
    matmul(hb, xb, bw.w1, n, dim, hidden);
    matmul(hb2, xb, bw.w3, n, dim, hidden);
    add_adapters(hb, xb, n, dim, hidden, adapters, l, &llama_block_adapter::w1, t);
    add_adapters(hb2, xb, n, dim, hidden, adapters, l, &llama_block_adapter::w3, t);
    for (int64_t b = 0; b < n; ++b)
      swiglu_item(hb + b * hidden, hb2 + b * hidden, hidden);
    matmul(xb, hb, bw.w2, n, hidden, dim);
    add_adapters(xb, hb, n, hidden, dim, adapters, l, &llama_block_adapter::w2, t);
    add(x, xb, n * dim);
  }

  classify(w, items, n, x, s + at.logits);
}

} // namespace llmos::kernels
