// Random Llama networks, dense and paged caches and comparisons shared by the decode-kernel tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "llmos/kernels/llama_decode.hpp"

namespace llmos::kernels::testing {

struct config {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
  bool tied;
  int32_t head_size() const { return dim / heads; }
  int32_t kv_dim() const { return head_size() * kv_heads; }
};

/// stories260K's shape: grouped-query attention (2 query heads per kv head), tied classifier.
constexpr config stories_shape{64, 172, 5, 8, 4, 512, 64, true};
/// One kv head per query head, a separate classifier, and no size a multiple of 8 or 4 (dim 36,
/// hidden 100, head 6, vocab 301), so that every remainder path of the fast kernel runs.
constexpr config odd_shape{36, 100, 3, 6, 6, 301, 40, false};

/// A network with random weights (uniform in ±0.05; norm weights around 1) that owns its storage.
struct random_model {
  struct block {
    std::vector<float> attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3;
  };
  config cfg;
  std::vector<float> embedding, final_norm, classifier;
  std::vector<block> blocks;

  random_model(const config& c, uint32_t seed) : cfg(c) {
    std::mt19937 rng{seed};
    auto matrix = [&rng](int64_t rows, int64_t cols) {
      std::uniform_real_distribution<float> d{-0.05f, 0.05f};
      std::vector<float> m(rows * cols);
      for (auto& x : m)
        x = d(rng);
      return m;
    };
    auto norm = [&rng](int64_t n) {
      std::uniform_real_distribution<float> d{0.8f, 1.2f};
      std::vector<float> m(n);
      for (auto& x : m)
        x = d(rng);
      return m;
    };
    embedding = matrix(c.vocab, c.dim);
    for (int32_t l = 0; l < c.layers; ++l)
      blocks.push_back({norm(c.dim), matrix(c.dim, c.dim), matrix(c.kv_dim(), c.dim),
                        matrix(c.kv_dim(), c.dim), matrix(c.dim, c.dim), norm(c.dim),
                        matrix(c.hidden, c.dim), matrix(c.dim, c.hidden), matrix(c.hidden, c.dim)});
    final_norm = norm(c.dim);
    if (!c.tied)
      classifier = matrix(c.vocab, c.dim);
  }

  llama_decode_weights view() const {
    llama_decode_weights w;
    w.dim = cfg.dim;
    w.hidden_dim = cfg.hidden;
    w.n_layers = cfg.layers;
    w.n_heads = cfg.heads;
    w.n_kv_heads = cfg.kv_heads;
    w.vocab_size = cfg.vocab;
    w.seq_len = cfg.seq_len;
    w.embedding = embedding.data();
    w.final_norm = final_norm.data();
    w.classifier = cfg.tied ? embedding.data() : classifier.data();
    for (const auto& b : blocks)
      w.blocks.push_back({b.attn_norm.data(), b.wq.data(), b.wk.data(), b.wv.data(), b.wo.data(),
                          b.ffn_norm.data(), b.w1.data(), b.w2.data(), b.w3.data()});
    return w;
  }
};

/// A dense cache, filled with NaN so that reading a position not yet written poisons the logits.
struct dense_cache {
  int64_t kv_dim, stride;
  std::vector<float> k, v;

  explicit dense_cache(const config& c)
      : kv_dim(c.kv_dim()), stride(int64_t{c.seq_len} * c.kv_dim()),
        k(c.layers * stride, std::numeric_limits<float>::quiet_NaN()), v(k) {}

  llama_kv_view view() { return {k.data(), v.data(), stride}; }
};

/// A paged cache: blocks of `block_size` positions in a pool, handed to the sequence in a
/// scrambled order (so that neighbouring positions of two blocks are never neighbours in memory).
struct paged_cache {
  int64_t kv_dim, block_floats, stride;
  int32_t block_size;
  std::vector<int32_t> table;
  std::vector<float> k, v;

  paged_cache(const config& c, int32_t block_size) : kv_dim(c.kv_dim()), block_size(block_size) {
    const int32_t blocks = (c.seq_len + block_size - 1) / block_size;
    block_floats = int64_t{block_size} * kv_dim;
    stride = (blocks + 2) * block_floats; // two blocks nobody uses
    table.resize(blocks + 2);
    std::iota(table.begin(), table.end(), 0);
    std::mt19937 rng{static_cast<uint32_t>(block_size)};
    std::shuffle(table.begin(), table.end(), rng);
    table.resize(blocks);
    k.assign(c.layers * stride, std::numeric_limits<float>::quiet_NaN());
    v = k;
  }

  llama_kv_view view() { return {k.data(), v.data(), stride, table.data(), block_size}; }
};

/// The larger of a difference so far and a new one; a NaN difference is infinite (std::max
/// would keep `m` when handed a NaN, and a kernel writing NaN would pass every tolerance).
inline float widen(float m, float d) {
  return std::isnan(d) ? std::numeric_limits<float>::infinity() : std::max(m, d);
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i)
    m = widen(m, std::fabs(a[i] - b[i]));
  return m;
}

/// Largest difference between two caches over the positions [0, len) of every layer.
inline float max_cache_diff(const dense_cache& a, const dense_cache& b, int32_t len) {
  float m = 0.0f;
  const auto layers = static_cast<int64_t>(a.k.size()) / a.stride;
  for (int64_t layer = 0; layer < layers; ++layer)
    for (int64_t i = 0; i < len * a.kv_dim; ++i) {
      const auto at = static_cast<std::size_t>(layer * a.stride + i);
      m = widen(widen(m, std::fabs(a.k[at] - b.k[at])), std::fabs(a.v[at] - b.v[at]));
    }
  return m;
}

inline std::vector<int32_t> random_tokens(const config& c, std::size_t n, uint32_t seed) {
  std::mt19937 rng{seed};
  std::uniform_int_distribution<int32_t> d{0, c.vocab - 1};
  std::vector<int32_t> t(n);
  for (auto& x : t)
    x = d(rng);
  return t;
}

} // namespace llmos::kernels::testing
