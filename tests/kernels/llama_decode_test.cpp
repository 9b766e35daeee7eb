// The fused Llama decode kernel against its plain reference on random networks, token by token
// at every position; batching against one-by-one decoding; and the grouped-query head mapping
// against an independent expansion of the same network to one kv head per query head.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "llama_random_model.hpp"
#include "llmos/kernels/llama_decode.hpp"

namespace {

using namespace llmos::kernels;
using namespace llmos::kernels::testing;

/// Decodes a whole sequence (every position of the cache) with the reference and with the fast
/// kernel, checking the logits at each step and the caches at the end.
void expect_fast_matches_reference(const config& c) {
  const random_model model(c, 7);
  const llama_decode_weights w = model.view();
  dense_cache ref_cache(c), fast_cache(c);
  llama_decode_scratch scratch;
  std::vector<float> ref_logits(c.vocab), fast_logits(c.vocab);
  const auto tokens = random_tokens(c, c.seq_len, 11);
  for (int32_t pos = 0; pos < c.seq_len; ++pos) {
    llama_decode_item ref{tokens[pos], pos, ref_cache.view(), ref_logits.data()};
    llama_decode_item fast{tokens[pos], pos, fast_cache.view(), fast_logits.data()};
    llama_decode_reference(w, &ref, 1);
    llama_decode(w, &fast, 1, scratch);
    ASSERT_LT(max_abs_diff(ref_logits, fast_logits), 1e-4f) << "at position " << pos;
  }
  EXPECT_LT(max_cache_diff(ref_cache, fast_cache, c.seq_len), 1e-5f);
  // Random weights must still give the logits some spread, or the comparison says little.
  const auto [lo, hi] = std::minmax_element(ref_logits.begin(), ref_logits.end());
  EXPECT_GT(*hi - *lo, 0.1f);
}

TEST(llama_decode, matches_reference_with_grouped_query_attention_and_tied_classifier) {
  expect_fast_matches_reference(stories_shape);
}

TEST(llama_decode, matches_reference_with_multi_head_attention_and_odd_sizes) {
  expect_fast_matches_reference(odd_shape);
}

TEST(llama_decode, batch_at_different_positions_equals_decoding_one_by_one) {
  const config c = stories_shape;
  const random_model model(c, 3);
  const llama_decode_weights w = model.view();
  llama_decode_scratch scratch;
  // Three sequences whose caches already hold 0, 7 and 20 positions.
  const std::vector<int32_t> prefix{0, 7, 20};
  std::vector<dense_cache> batched(3, dense_cache(c));
  std::vector<float> logits(c.vocab);
  for (std::size_t s = 0; s < prefix.size(); ++s) {
    const auto tokens = random_tokens(c, prefix[s], 100 + s);
    for (int32_t pos = 0; pos < prefix[s]; ++pos) {
      llama_decode_item it{tokens[pos], pos, batched[s].view(), logits.data()};
      llama_decode(w, &it, 1, scratch);
    }
  }
  std::vector<dense_cache> single = batched;

  // Each step runs the batch, then the same tokens one at a time through the same scratch (so a
  // smaller batch also reuses the larger one's buffer); results must agree to the bit.
  const auto tokens = random_tokens(c, 3 * 12, 5);
  std::vector<std::vector<float>> batched_logits(3, std::vector<float>(c.vocab));
  std::vector<std::vector<float>> single_logits = batched_logits;
  for (int32_t step = 0; step < 12; ++step) {
    std::vector<llama_decode_item> items;
    for (int32_t s = 0; s < 3; ++s)
      items.push_back(
          {tokens[step * 3 + s], prefix[s] + step, batched[s].view(), batched_logits[s].data()});
    llama_decode(w, items.data(), 3, scratch);
    for (int32_t s = 0; s < 3; ++s) {
      llama_decode_item it{tokens[step * 3 + s], prefix[s] + step, single[s].view(),
                           single_logits[s].data()};
      llama_decode(w, &it, 1, scratch);
      ASSERT_EQ(batched_logits[s], single_logits[s]) << "sequence " << s << ", step " << step;
    }
  }
  for (int32_t s = 0; s < 3; ++s)
    EXPECT_EQ(max_cache_diff(batched[s], single[s], prefix[s] + 12), 0.0f) << "sequence " << s;
}

TEST(llama_decode, a_paged_cache_gives_the_dense_caches_logits_to_the_bit) {
  for (const config& c : {stories_shape, odd_shape}) {
    const random_model model(c, 13);
    const llama_decode_weights w = model.view();
    llama_decode_scratch scratch;
    const auto tokens = random_tokens(c, c.seq_len, 17);
    // Block sizes around the vector widths (8 and 4), one that divides nothing, and one block.
    for (int32_t block_size : {1, 3, 8, 16, c.seq_len}) {
      dense_cache dense(c);
      paged_cache paged(c, block_size), paged_ref(c, block_size);
      std::vector<float> dl(c.vocab), pl(c.vocab), rl(c.vocab);
      for (int32_t pos = 0; pos < c.seq_len; ++pos) {
        llama_decode_item d{tokens[pos], pos, dense.view(), dl.data()};
        llama_decode_item p{tokens[pos], pos, paged.view(), pl.data()};
        llama_decode_item r{tokens[pos], pos, paged_ref.view(), rl.data()};
        llama_decode(w, &d, 1, scratch);
        llama_decode(w, &p, 1, scratch);
        llama_decode_reference(w, &r, 1);
        ASSERT_EQ(dl, pl) << "block size " << block_size << ", position " << pos;
        ASSERT_LT(max_abs_diff(rl, pl), 1e-4f)
            << "block size " << block_size << ", position " << pos;
      }
    }
  }
}

TEST(llama_decode, a_prefill_chunk_in_one_call_equals_its_positions_one_by_one) {
  const config c = stories_shape;
  const random_model model(c, 29);
  const llama_decode_weights w = model.view();
  llama_decode_scratch scratch;
  const auto tokens = random_tokens(c, 40, 31);
  paged_cache one(c, 8), chunked(c, 8);
  std::vector<float> one_logits(c.vocab), chunk_logits(c.vocab), other_logits(c.vocab);
  for (int32_t pos = 0; pos < 40; ++pos) {
    llama_decode_item it{tokens[pos], pos, one.view(), one_logits.data()};
    llama_decode(w, &it, 1, scratch);
  }
  // Positions 0..39 as two chunks, with another sequence's decode between them in the batch;
  // only the last position asks for logits.
  dense_cache other(c);
  std::vector<llama_decode_item> items;
  for (int32_t pos = 0; pos < 25; ++pos)
    items.push_back({tokens[pos], pos, chunked.view(), nullptr});
  items.insert(items.begin() + 10, llama_decode_item{5, 0, other.view(), other_logits.data()});
  llama_decode(w, items.data(), static_cast<int32_t>(items.size()), scratch);
  items.clear();
  for (int32_t pos = 25; pos < 40; ++pos)
    items.push_back({tokens[pos], pos, chunked.view(), pos == 39 ? chunk_logits.data() : nullptr});
  llama_decode(w, items.data(), static_cast<int32_t>(items.size()), scratch);
  EXPECT_EQ(one_logits, chunk_logits);
  // Bit for bit (the blocks nobody wrote hold the same NaN in both).
  EXPECT_EQ(std::memcmp(one.k.data(), chunked.k.data(), one.k.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(one.v.data(), chunked.v.data(), one.v.size() * sizeof(float)), 0);
  // The decode in the middle of the chunk got its own logits, as alone.
  dense_cache alone(c);
  std::vector<float> alone_logits(c.vocab);
  llama_decode_item it{5, 0, alone.view(), alone_logits.data()};
  llama_decode(w, &it, 1, scratch);
  EXPECT_EQ(alone_logits, other_logits);
}

/// The same network with one kv head per query head: query head h gets a copy of the key and
/// value rows of kv head h / (heads / kv_heads), the grouping Llama defines.
random_model expand_to_multi_head(const random_model& gqa) {
  random_model mha = gqa;
  const config& c = gqa.cfg;
  mha.cfg.kv_heads = c.heads;
  const int64_t hs = c.head_size(), group = c.heads / c.kv_heads;
  for (std::size_t l = 0; l < gqa.blocks.size(); ++l) {
    auto expand = [&](const std::vector<float>& m) {
      std::vector<float> out;
      for (int64_t h = 0; h < c.heads; ++h) {
        const auto first = m.begin() + (h / group) * hs * c.dim;
        out.insert(out.end(), first, first + hs * c.dim);
      }
      return out;
    };
    mha.blocks[l].wk = expand(gqa.blocks[l].wk);
    mha.blocks[l].wv = expand(gqa.blocks[l].wv);
  }
  return mha;
}

TEST(llama_decode, grouped_query_heads_share_the_kv_head_of_their_group) {
  // kv head h / 2 (0,0,1,1,...) and h % 4 (0,1,2,3,0,...) differ for 6 of the 8 query heads.
  const random_model gqa(stories_shape, 21);
  const random_model mha = expand_to_multi_head(gqa);
  const llama_decode_weights wg = gqa.view(), wm = mha.view();
  dense_cache ref_g(gqa.cfg), ref_m(mha.cfg), fast_g(gqa.cfg), fast_m(mha.cfg);
  llama_decode_scratch sg, sm;
  std::vector<float> lrg(gqa.cfg.vocab), lrm(lrg), lfg(lrg), lfm(lrg);
  const auto tokens = random_tokens(gqa.cfg, 16, 9);
  for (int32_t pos = 0; pos < 16; ++pos) {
    llama_decode_item irg{tokens[pos], pos, ref_g.view(), lrg.data()};
    llama_decode_item irm{tokens[pos], pos, ref_m.view(), lrm.data()};
    llama_decode_item ifg{tokens[pos], pos, fast_g.view(), lfg.data()};
    llama_decode_item ifm{tokens[pos], pos, fast_m.view(), lfm.data()};
    llama_decode_reference(wg, &irg, 1);
    llama_decode_reference(wm, &irm, 1);
    llama_decode(wg, &ifg, 1, sg);
    llama_decode(wm, &ifm, 1, sm);
    ASSERT_LT(max_abs_diff(lrg, lrm), 1e-5f) << "reference at position " << pos;
    ASSERT_LT(max_abs_diff(lfg, lfm), 1e-5f) << "fast kernel at position " << pos;
  }
}

} // namespace
