// The fast decode step. Activations are kept item-major ([batch][features]) in one scratch buffer,
// and every matrix is applied to the whole batch at once: a block of weight rows is loaded into
// L1 and dotted with each item's vector before the next block, so a step reads each weight once
// however many sequences it carries. Norms, rotary and attention are per item; for a model as
// small as stories260K, attention over a few hundred positions costs as much as the matrices, so
// it is vectorised too (scores, a vector exp for the softmax, the weighted values).
//
// No -ffast-math: GCC may not reassociate a float sum, so a plain dot product stays scalar. The
// dots (llama_simd.hpp) keep one partial sum per vector lane (GCC/Clang vector types, no
// intrinsics) and add the lanes up in a fixed order. Each (row, item) sum is computed by the same
// instructions in the same order whatever the batch, so an item's logits do not depend on who else
// is in the batch.
#include "llmos/kernels/llama_decode.hpp"
#include "llama_simd.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

namespace llmos::kernels {
namespace {

using namespace simd_detail;

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

/// Matrix times every item's vector (see matmul_batch in llama_simd.hpp).
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
