// Low-rank adapters in the decode kernel: an item with an adapter gets what the reference gives it
// and what the base with the adapter folded into its weights gives (W + scale * B A); items with
// different adapters (or none) in one step get, to the bit, what each gets alone.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "llama_random_adapter.hpp"
#include "llama_random_model.hpp"
#include "llmos/kernels/llama_decode.hpp"

namespace {

using namespace llmos::kernels;
using namespace llmos::kernels::testing;

/// w += scale * B A for a row-major w [out, in].
void fold(std::vector<float>& w, const llama_lora& lora, float scale, int64_t in, int64_t out) {
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      float sum = 0.0f;
      for (int64_t r = 0; r < lora.rank; ++r)
        sum += lora.b[o * lora.rank + r] * lora.a[r * in + i];
      w[static_cast<std::size_t>(o * in + i)] += scale * sum;
    }
}

random_model merged(const random_model& base, const random_adapter& ad) {
  random_model m = base;
  const config& c = base.cfg;
  const float s = ad.weights.scale;
  for (std::size_t l = 0; l < m.blocks.size(); ++l) {
    const auto& a = ad.weights.blocks[l];
    auto& b = m.blocks[l];
    fold(b.wq, a.wq, s, c.dim, c.dim);
    fold(b.wk, a.wk, s, c.dim, c.kv_dim());
    fold(b.wv, a.wv, s, c.dim, c.kv_dim());
    fold(b.wo, a.wo, s, c.dim, c.dim);
    fold(b.w1, a.w1, s, c.dim, c.hidden);
    fold(b.w2, a.w2, s, c.hidden, c.dim);
    fold(b.w3, a.w3, s, c.dim, c.hidden);
  }
  return m;
}

TEST(llama_decode_lora, an_adapter_gives_the_references_and_the_folded_weights_logits) {
  for (const config& c : {stories_shape, odd_shape}) {
    const random_model base(c, 41);
    const random_adapter ad(c, 3, 0.5f, 43);
    const random_model folded = merged(base, ad);
    const llama_decode_weights w = base.view(), wf = folded.view();
    dense_cache fast_cache(c), ref_cache(c), folded_cache(c), base_cache(c);
    llama_decode_scratch scratch;
    std::vector<float> fast(c.vocab), ref(c.vocab), fl(c.vocab), bl(c.vocab);
    const auto tokens = random_tokens(c, c.seq_len, 47);
    float moved = 0.0f;
    const llama_adapter_weights* one[] = {&ad.weights};
    for (int32_t pos = 0; pos < c.seq_len; ++pos) {
      llama_decode_item f{tokens[pos], pos, fast_cache.view(), fast.data()};
      llama_decode_item r{tokens[pos], pos, ref_cache.view(), ref.data()};
      llama_decode_item m{tokens[pos], pos, folded_cache.view(), fl.data()};
      llama_decode_item b{tokens[pos], pos, base_cache.view(), bl.data()};
      llama_decode(w, &f, 1, scratch, one);
      llama_decode_reference(w, &r, 1, one);
      llama_decode(wf, &m, 1, scratch);
      llama_decode(w, &b, 1, scratch);
      ASSERT_LT(max_abs_diff(fast, ref), 1e-4f) << "reference, position " << pos;
      ASSERT_LT(max_abs_diff(fast, fl), 1e-4f) << "folded weights, position " << pos;
      moved = std::max(moved, max_abs_diff(fast, bl));
    }
    EXPECT_GT(moved, 1e-2f) << "the adapter must change the logits, or the test says nothing";
  }
}

TEST(llama_decode_lora, items_with_different_adapters_in_one_step_get_what_each_gets_alone) {
  const config c = stories_shape;
  const random_model base(c, 51);
  const random_adapter first(c, 4, 0.25f, 53), second(c, 2, 1.0f, 59);
  const llama_decode_weights w = base.view();
  const llama_adapter_weights* chosen[] = {nullptr, &first.weights, &second.weights,
                                           &first.weights};
  constexpr int32_t n = 4, steps = 20;
  std::vector<dense_cache> together(n, dense_cache(c)), alone(n, dense_cache(c));
  std::vector<std::vector<float>> tl(n, std::vector<float>(c.vocab)), al = tl;
  llama_decode_scratch scratch;
  const auto tokens = random_tokens(c, n * steps, 61);
  for (int32_t step = 0; step < steps; ++step) {
    std::vector<llama_decode_item> items;
    for (int32_t s = 0; s < n; ++s)
      items.push_back({tokens[step * n + s], step, together[s].view(), tl[s].data()});
    llama_decode(w, items.data(), n, scratch, chosen);
    for (int32_t s = 0; s < n; ++s) {
      llama_decode_item it{tokens[step * n + s], step, alone[s].view(), al[s].data()};
      llama_decode(w, &it, 1, scratch, &chosen[s]);
      ASSERT_EQ(tl[s], al[s]) << "sequence " << s << ", step " << step;
    }
  }
  for (int32_t s = 0; s < n; ++s)
    EXPECT_EQ(max_cache_diff(together[s], alone[s], steps), 0.0f) << "sequence " << s;
  // The same tokens under different adapters give different logits (sequences 1 and 3 share one).
  EXPECT_NE(tl[0], tl[1]);
}

} // namespace
