// The CUDA decode step against the CPU kernel (label gpu; the comparison skips without a GPU):
// random networks of two shapes, three sequences in paged caches with scrambled block tables,
// a prefill chunk beside another sequence's first token, then batched decode of all three at
// different positions; every wanted logit and the caches compared. The same with two of the
// sequences under LoRA adapters of different ranks and one under none.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llama_random_adapter.hpp"
#include "llama_random_model.hpp"
#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/llama_decode_cuda.hpp"

#if LLMOS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace llmos::kernels::testing {
namespace {

TEST(llama_decode_cuda, says_why_it_cannot_run_without_a_gpu) {
  if (cuda_device_count() > 0)
    GTEST_SKIP() << "a GPU is present; covered by llama_decode_cuda_gpu";
  const random_model model(stories_shape, 3);
  const llama_decode_weights w = model.view();
  dense_cache cache(stories_shape);
  std::vector<float> logits(stories_shape.vocab);
  llama_decode_item item{1, 0, cache.view(), logits.data()};
  llama_cuda_scratch scratch;
  EXPECT_FALSE(llama_decode_cuda(w, &item, 1, scratch).empty());
  if (!cuda_compiled())
    return;
  // Checked before any GPU work: a token outside the vocabulary would read past the weights.
  item.token = stories_shape.vocab;
  const auto refusal = llama_decode_cuda(w, &item, 1, scratch);
  EXPECT_NE(refusal.find("item 0 has token 512 at position 0 (vocabulary 512"), std::string::npos)
      << refusal;
}

#if LLMOS_WITH_CUDA

/// A host vector's copy in device memory, freed with it.
template <class T> class device_array {
public:
  explicit device_array(const std::vector<T>& host) : n_(host.size()) {
    EXPECT_EQ(cudaMalloc(&ptr_, n_ * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~device_array() { cudaFree(ptr_); }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;

  T* get() const { return ptr_; }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    EXPECT_EQ(cudaMemcpy(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }

private:
  T* ptr_ = nullptr;
  std::size_t n_;
};

/// A random model's weights copied to the GPU, and their view.
struct device_model {
  std::vector<std::unique_ptr<device_array<float>>> arrays;
  llama_decode_weights w;

  explicit device_model(const random_model& m) : w(m.view()) {
    auto put = [this](const std::vector<float>& v) {
      arrays.push_back(std::make_unique<device_array<float>>(v));
      return static_cast<const float*>(arrays.back()->get());
    };
    w.embedding = put(m.embedding);
    w.final_norm = put(m.final_norm);
    w.classifier = m.cfg.tied ? w.embedding : put(m.classifier);
    for (std::size_t l = 0; l < m.blocks.size(); ++l) {
      const auto& b = m.blocks[l];
      w.blocks[l] = {put(b.attn_norm), put(b.wq), put(b.wk), put(b.wv), put(b.wo),
                     put(b.ffn_norm),  put(b.w1), put(b.w2), put(b.w3)};
    }
  }
};

/// An adapter's copy in device memory: every matrix uploaded, its view pointing at them.
struct device_adapter {
  std::vector<std::unique_ptr<device_array<float>>> arrays;
  llama_adapter_weights w;

  explicit device_adapter(const random_adapter& host) : w(host.weights) {
    for (auto& block : w.blocks)
      for (auto which :
           {&llama_block_adapter::wq, &llama_block_adapter::wk, &llama_block_adapter::wv,
            &llama_block_adapter::wo, &llama_block_adapter::w1, &llama_block_adapter::w2,
            &llama_block_adapter::w3})
        for (const float** m : {&(block.*which).a, &(block.*which).b}) {
          auto it = std::find_if(host.storage.begin(), host.storage.end(),
                                 [&](const auto& v) { return v.data() == *m; });
          EXPECT_NE(it, host.storage.end());
          if (it == host.storage.end())
            return;
          arrays.push_back(std::make_unique<device_array<float>>(*it));
          *m = arrays.back()->get();
        }
  }
};

/// A paged cache's twin on the GPU: the same block table, the same NaN-filled pool.
struct device_cache {
  device_array<float> k, v;
  device_array<int32_t> table;
  int64_t stride;
  int32_t block_size;

  explicit device_cache(const paged_cache& c)
      : k(c.k), v(c.v), table(c.table), stride(c.stride), block_size(c.block_size) {}
  llama_kv_view view() const { return {k.get(), v.get(), stride, table.get(), block_size}; }
};

/// Largest difference of two pools where both hold a number (NaN where nobody wrote, in both).
float max_pool_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::isnan(a[i]) != std::isnan(b[i]))
      return std::numeric_limits<float>::infinity();
    else if (!std::isnan(a[i]))
      m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

/// One sequence's place in a step: which, at what position, and whether its logits are wanted.
struct planned {
  int seq;
  int32_t pos;
  bool logits;
};

/// Three sequences decoded by the CPU kernel and the CUDA one side by side.
class twin_decoder {
public:
  twin_decoder(const random_model& m, const std::vector<int32_t>& tokens)
      : model_(m), w_(m.view()), dm_(m), tokens_(tokens), cpu_logits_(3 * m.cfg.vocab),
        gpu_logits_(cpu_logits_) {
    for (int32_t block_size : {1, 3, 8}) {
      cpu_.emplace_back(m.cfg, block_size);
      gpu_.push_back(std::make_unique<device_cache>(cpu_.back()));
    }
  }

  /// Sequence i decodes under adapters[i] (null: none) from now on, on both.
  void set_adapters(const std::vector<const random_adapter*>& adapters) {
    for (const auto* a : adapters) {
      cpu_adapters_.push_back(a ? &a->weights : nullptr);
      gpu_copies_.push_back(a ? std::make_unique<device_adapter>(*a) : nullptr);
      gpu_adapters_.push_back(a ? &gpu_copies_.back()->w : nullptr);
    }
  }

  /// Runs `plan` on both; the largest difference of the wanted logits.
  float step(const std::vector<planned>& plan) {
    std::vector<llama_decode_item> on_cpu, on_gpu;
    std::vector<const llama_adapter_weights*> cpu_adapters, gpu_adapters;
    const int32_t vocab = model_.cfg.vocab;
    for (const auto& p : plan) {
      const int32_t token = tokens_[(p.pos + 7 * p.seq) % tokens_.size()];
      on_cpu.push_back({token, p.pos, cpu_[p.seq].view(),
                        p.logits ? cpu_logits_.data() + p.seq * vocab : nullptr});
      on_gpu.push_back({token, p.pos, gpu_[p.seq]->view(),
                        p.logits ? gpu_logits_.get() + p.seq * vocab : nullptr});
      if (!cpu_adapters_.empty()) {
        cpu_adapters.push_back(cpu_adapters_[p.seq]);
        gpu_adapters.push_back(gpu_adapters_[p.seq]);
      }
    }
    const auto count = static_cast<int32_t>(plan.size());
    const bool adapted = !cpu_adapters.empty();
    llama_decode(w_, on_cpu.data(), count, cpu_scratch_, adapted ? cpu_adapters.data() : nullptr);
    const auto err = llama_decode_cuda(dm_.w, on_gpu.data(), count, gpu_scratch_, nullptr,
                                       adapted ? gpu_adapters.data() : nullptr);
    EXPECT_TRUE(err.empty()) << err;
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const auto gpu = gpu_logits_.host();
    float m = 0.0f;
    for (const auto& p : plan)
      for (int32_t i = 0; p.logits && i < vocab; ++i)
        m = widen(m, std::fabs(gpu[p.seq * vocab + i] - cpu_logits_[p.seq * vocab + i]));
    return m;
  }

  /// The largest difference between the CPU's and the GPU's caches of sequence `seq`.
  float cache_diff(int seq) const {
    return std::max(max_pool_diff(cpu_[seq].k, gpu_[seq]->k.host()),
                    max_pool_diff(cpu_[seq].v, gpu_[seq]->v.host()));
  }

private:
  const random_model& model_;
  llama_decode_weights w_;
  device_model dm_;
  std::vector<int32_t> tokens_;
  std::vector<paged_cache> cpu_;
  std::vector<std::unique_ptr<device_cache>> gpu_;
  std::vector<float> cpu_logits_;
  device_array<float> gpu_logits_;
  llama_decode_scratch cpu_scratch_;
  llama_cuda_scratch gpu_scratch_;
  std::vector<const llama_adapter_weights*> cpu_adapters_, gpu_adapters_;
  std::vector<std::unique_ptr<device_adapter>> gpu_copies_;
};

/// Sequence 0 prefills ten positions in one call (logits of the last) beside sequence 1's first;
/// then all three in every step, each at its own position, until sequence 0's context is full.
void prefill_then_decode(twin_decoder& twin, const config& c) {
  std::vector<planned> prefill;
  for (int32_t pos = 0; pos < 10; ++pos)
    prefill.push_back({0, pos, pos == 9});
  prefill.push_back({1, 0, true});
  ASSERT_LT(twin.step(prefill), 1e-3f);
  for (int32_t t = 0; 10 + t < c.seq_len; ++t)
    ASSERT_LT(twin.step({{0, 10 + t, true}, {1, 1 + t, true}, {2, t, true}}), 1e-3f)
        << "step " << t;
  for (int seq = 0; seq < 3; ++seq)
    EXPECT_LT(twin.cache_diff(seq), 1e-4f) << "sequence " << seq;
}

TEST(llama_decode_cuda_gpu, batches_over_paged_caches_match_the_cpu_kernel) {
  if (cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device on this machine";
  for (const config& c : {stories_shape, odd_shape}) {
    SCOPED_TRACE("dim " + std::to_string(c.dim));
    const random_model model(c, 13);
    twin_decoder twin(model, random_tokens(c, c.seq_len, 17));
    prefill_then_decode(twin, c);
  }
}

TEST(llama_decode_cuda_gpu, items_under_adapters_match_the_cpu_kernel) {
  if (cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device on this machine";
  for (const config& c : {stories_shape, odd_shape}) {
    SCOPED_TRACE("dim " + std::to_string(c.dim));
    const random_model model(c, 23);
    const random_adapter first(c, 4, 0.5f, 29), second(c, 2, 1.0f, 31);
    twin_decoder twin(model, random_tokens(c, c.seq_len, 37));
    twin.set_adapters({&first, nullptr, &second});
    prefill_then_decode(twin, c);
  }
}

#endif

} // namespace
} // namespace llmos::kernels::testing
