// Random LoRA adapters for the decode-kernel tests (CPU and CUDA), owning their storage.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "llama_random_model.hpp"
#include "llmos/kernels/llama_decode.hpp"

namespace llmos::kernels::testing {

/// Random adapters of `rank` on every linear layer of a network of shape c, owning their storage.
struct random_adapter {
  std::vector<std::vector<float>> storage;
  llama_adapter_weights weights;

  random_adapter(const random_adapter&) = delete; // weights point into its own storage
  random_adapter& operator=(const random_adapter&) = delete;

  random_adapter(const config& c, int32_t rank, float scale, uint32_t seed) {
    std::mt19937 rng{seed};
    std::uniform_real_distribution<float> d{-0.2f, 0.2f};
    storage.reserve(static_cast<std::size_t>(c.layers) * 14);
    auto pair = [&](int64_t in, int64_t out) {
      storage.emplace_back(static_cast<std::size_t>(rank * in));
      for (auto& x : storage.back())
        x = d(rng);
      const float* a = storage.back().data();
      storage.emplace_back(static_cast<std::size_t>(out * rank));
      for (auto& x : storage.back())
        x = d(rng);
      return llama_lora{a, storage.back().data(), rank};
    };
    weights.scale = scale;
    for (int32_t l = 0; l < c.layers; ++l) {
      llama_block_adapter b;
      b.wq = pair(c.dim, c.dim);
      b.wk = pair(c.dim, c.kv_dim());
      b.wv = pair(c.dim, c.kv_dim());
      b.wo = pair(c.dim, c.dim);
      b.w1 = pair(c.dim, c.hidden);
      b.w2 = pair(c.hidden, c.dim);
      b.w3 = pair(c.dim, c.hidden);
      weights.blocks.push_back(b);
    }
  }
};

} // namespace llmos::kernels::testing
