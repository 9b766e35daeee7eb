// The plain decode step: llama2.c's forward (run.c) transcribed loop for loop, one item at a time,
// with its own buffers allocated per call. It is kept naive on purpose: it is what the fast kernel
// (llama_decode.cpp) is checked against, so it must be obviously right rather than quick.
#include "llmos/kernels/llama_decode.hpp"

#include <cassert>
#include <cmath>
#include <vector>

namespace llmos::kernels {
namespace {

/// o = x * weight / sqrt(mean(x²) + eps); o may alias x.
void rmsnorm(float* o, const float* x, const float* weight, int size, float eps) {
  float ss = 0.0f;
  for (int j = 0; j < size; j++)
    ss += x[j] * x[j];
  ss /= static_cast<float>(size);
  ss += eps;
  ss = 1.0f / std::sqrt(ss);
  for (int j = 0; j < size; j++)
    o[j] = weight[j] * (ss * x[j]);
}

void softmax(float* x, int size) {
  // Subtracting the maximum keeps exp from overflowing; it cancels in the normalisation.
  float max_val = x[0];
  for (int i = 1; i < size; i++)
    if (x[i] > max_val)
      max_val = x[i];
  float sum = 0.0f;
  for (int i = 0; i < size; i++) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (int i = 0; i < size; i++)
    x[i] /= sum;
}

/// out[r] = w[r, :] · x for a row-major w [rows, cols].
void matmul(float* out, const float* x, const float* w, int cols, int rows) {
  for (int r = 0; r < rows; r++) {
    float val = 0.0f;
    for (int c = 0; c < cols; c++)
      val += w[static_cast<int64_t>(r) * cols + c] * x[c];
    out[r] = val;
  }
}

/// out[r] += scale * (B (A x))[r] for one linear layer's adapter, when it has one.
void add_lora(float* out, const float* x, const llama_lora& lora, float scale, int cols, int rows) {
  if (lora.a == nullptr)
    return;
  std::vector<float> t(lora.rank);
  matmul(t.data(), x, lora.a, cols, lora.rank);
  for (int r = 0; r < rows; r++) {
    float val = 0.0f;
    for (int i = 0; i < lora.rank; i++)
      val += lora.b[static_cast<int64_t>(r) * lora.rank + i] * t[i];
    out[r] += scale * val;
  }
}

/// Rotary: each pair (i, i+1) of q and k turns by pos * theta^(-head_dim / head_size); keys
/// exist only for the first kv_dim entries.
void rotate(const llama_decode_weights& w, int pos, float* q, float* k) {
  const int dim = w.dim, head_size = dim / w.n_heads, kv_dim = head_size * w.n_kv_heads;
  for (int i = 0; i < dim; i += 2) {
    const int head_dim = i % head_size;
    const float freq =
        1.0f / std::pow(w.rope_theta, static_cast<float>(head_dim) / static_cast<float>(head_size));
    const float val = static_cast<float>(pos) * freq;
    const float fcr = std::cos(val), fci = std::sin(val);
    const int rotn = i < kv_dim ? 2 : 1;
    for (int r = 0; r < rotn; r++) {
      float* vec = r == 0 ? q : k;
      const float v0 = vec[i], v1 = vec[i + 1];
      vec[i] = v0 * fcr - v1 * fci;
      vec[i + 1] = v0 * fci + v1 * fcr;
    }
  }
}

/// Each query head attends over layer `l`'s cached keys and values up to `pos` into `out`
/// (`att`: n_heads * seq_len scores).
void attend(const llama_decode_weights& w, const llama_kv_view& cache, int l, int pos,
            const float* q, float* att, float* out) {
  const int head_size = w.dim / w.n_heads, kv_dim = head_size * w.n_kv_heads;
  const int kv_mul = w.n_heads / w.n_kv_heads; // query heads per kv head
  const float* key_cache = cache.k + l * cache.layer_stride;
  const float* value_cache = cache.v + l * cache.layer_stride;
  for (int h = 0; h < w.n_heads; h++) {
    const float* qh = q + h * head_size;
    float* atth = att + static_cast<int64_t>(h) * w.seq_len;
    const int kv_head = h / kv_mul;
    for (int t = 0; t <= pos; t++) {
      const float* kt = key_cache + llama_kv_offset(cache, t, kv_dim) + kv_head * head_size;
      float score = 0.0f;
      for (int i = 0; i < head_size; i++)
        score += qh[i] * kt[i];
      atth[t] = score / std::sqrt(static_cast<float>(head_size));
    }
    softmax(atth, pos + 1);
    float* oh = out + h * head_size;
    for (int i = 0; i < head_size; i++)
      oh[i] = 0.0f;
    for (int t = 0; t <= pos; t++) {
      const float* vt = value_cache + llama_kv_offset(cache, t, kv_dim) + kv_head * head_size;
      for (int i = 0; i < head_size; i++)
        oh[i] += atth[t] * vt[i];
    }
  }
}

void forward(const llama_decode_weights& w, const llama_decode_item& item,
             const llama_adapter_weights* adapter) {
  const int dim = w.dim, hidden = w.hidden_dim, seq_len = w.seq_len;
  const int head_size = dim / w.n_heads;
  const int kv_dim = head_size * w.n_kv_heads;
  const int pos = item.pos;
  assert(item.token >= 0 && item.token < w.vocab_size && pos >= 0 && pos < seq_len);

  std::vector<float> x(w.embedding + static_cast<int64_t>(item.token) * dim,
                       w.embedding + static_cast<int64_t>(item.token + 1) * dim);
  std::vector<float> xb(dim), xb2(dim), q(dim), hb(hidden), hb2(hidden);
  std::vector<float> att(static_cast<int64_t>(w.n_heads) * seq_len);

  for (int l = 0; l < w.n_layers; l++) {
    const llama_block_weights& b = w.blocks[l];
    // An item without an adapter adds nothing (the layers' empty llama_lora).
    const llama_block_adapter la = adapter != nullptr ? adapter->blocks[l] : llama_block_adapter{};
    const float s = adapter != nullptr ? adapter->scale : 0.0f;
    float* key_cache = item.cache.k + l * item.cache.layer_stride;
    float* value_cache = item.cache.v + l * item.cache.layer_stride;
    float* k = key_cache + llama_kv_offset(item.cache, pos, kv_dim);
    float* v = value_cache + llama_kv_offset(item.cache, pos, kv_dim);

    rmsnorm(xb.data(), x.data(), b.attn_norm, dim, w.norm_eps);
    matmul(q.data(), xb.data(), b.wq, dim, dim);
    matmul(k, xb.data(), b.wk, dim, kv_dim);
    matmul(v, xb.data(), b.wv, dim, kv_dim);
    add_lora(q.data(), xb.data(), la.wq, s, dim, dim);
    add_lora(k, xb.data(), la.wk, s, dim, kv_dim);
    add_lora(v, xb.data(), la.wv, s, dim, kv_dim);

    rotate(w, pos, q.data(), k);
    attend(w, item.cache, l, pos, q.data(), att.data(), xb.data());

    matmul(xb2.data(), xb.data(), b.wo, dim, dim);
    add_lora(xb2.data(), xb.data(), la.wo, s, dim, dim);
    for (int i = 0; i < dim; i++)
      x[i] += xb2[i];

    rmsnorm(xb.data(), x.data(), b.ffn_norm, dim, w.norm_eps);
    matmul(hb.data(), xb.data(), b.w1, dim, hidden);
    matmul(hb2.data(), xb.data(), b.w3, dim, hidden);
    add_lora(hb.data(), xb.data(), la.w1, s, dim, hidden);
    add_lora(hb2.data(), xb.data(), la.w3, s, dim, hidden);
    for (int i = 0; i < hidden; i++) {
      float val = hb[i];
      val *= 1.0f / (1.0f + std::exp(-val)); // silu
      hb[i] = val * hb2[i];
    }
    matmul(xb.data(), hb.data(), b.w2, hidden, dim);
    add_lora(xb.data(), hb.data(), la.w2, s, hidden, dim);
    for (int i = 0; i < dim; i++)
      x[i] += xb[i];
  }

  if (item.logits == nullptr)
    return;
  rmsnorm(x.data(), x.data(), w.final_norm, dim, w.norm_eps);
  matmul(item.logits, x.data(), w.classifier, dim, w.vocab_size);
}

} // namespace

void llama_decode_reference(const llama_decode_weights& w, llama_decode_item* items, int32_t count,
                            const llama_adapter_weights* const* adapters) {
  for (int32_t i = 0; i < count; i++)
    forward(w, items[i], adapters != nullptr ? adapters[i] : nullptr);
}

} // namespace llmos::kernels
