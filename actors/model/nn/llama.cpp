// The llama network in LibTorch (see llama.hpp). Written to match llama2.c's run.c operation for
// operation, so that the reference's greedy output is reproduced: RMSNorm as x * rsqrt(mean(x²) +
// eps) * w, rotary angles computed in float as run.c does, head h attending with key/value head
// h / (heads / kv_heads).
#include "model/nn/llama.hpp"

#include <cmath>

#include <torch/version.h>

namespace llmos::model::nn {

namespace {

class rms_norm_impl : public torch::nn::Module {
public:
  rms_norm_impl(int64_t dim, double eps) : eps_(eps) {
    weight = register_parameter("weight", torch::ones({dim}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps_) * weight;
  }
  torch::Tensor weight;

private:
  double eps_;
};
TORCH_MODULE_IMPL(rms_norm, rms_norm_impl);

/// Rotary tables [seq_len, head_dim / 2], computed in float as run.c does (double would differ
/// in the last bits and could flip a greedy choice late in a long generation).
std::pair<torch::Tensor, torch::Tensor> rope_tables(int64_t seq_len, int64_t head_dim,
                                                    double theta) {
  auto cos = torch::empty({seq_len, head_dim / 2});
  auto sin = torch::empty({seq_len, head_dim / 2});
  auto* c = cos.data_ptr<float>();
  auto* s = sin.data_ptr<float>();
  for (int64_t pos = 0; pos < seq_len; ++pos)
    for (int64_t i = 0; i < head_dim; i += 2) {
      const float freq = 1.0f / std::pow(static_cast<float>(theta),
                                         static_cast<float>(i) / static_cast<float>(head_dim));
      const float angle = static_cast<float>(pos) * freq;
      c[pos * head_dim / 2 + i / 2] = std::cos(angle);
      s[pos * head_dim / 2 + i / 2] = std::sin(angle);
    }
  return {cos, sin};
}

/// x [B, T, N, head_dim] rotated for positions offset..offset+T-1; pairs (2i, 2i+1) rotate.
torch::Tensor rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                     int64_t offset) {
  const auto t = x.size(1);
  const auto half = x.size(3) / 2;
  auto c = cos.narrow(0, offset, t).view({1, t, 1, half});
  auto s = sin.narrow(0, offset, t).view({1, t, 1, half});
  auto pairs = x.view({x.size(0), t, x.size(2), half, 2});
  auto x0 = pairs.select(-1, 0);
  auto x1 = pairs.select(-1, 1);
  return torch::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).view(x.sizes());
}

class llama_block_impl : public torch::nn::Module {
public:
  llama_block_impl(const model_spec& s, int64_t kv_heads)
      : heads_(s.heads), kv_heads_(kv_heads), head_dim_(s.embed_dim / s.heads) {
    const auto dim = s.embed_dim;
    const auto kv_dim = kv_heads * head_dim_;
    attn_norm = register_module("attn_norm", rms_norm(dim, s.norm_eps));
    wq = register_module("wq", lora_linear(dim, dim, false));
    wk = register_module("wk", lora_linear(dim, kv_dim, false));
    wv = register_module("wv", lora_linear(dim, kv_dim, false));
    wo = register_module("wo", lora_linear(dim, dim, false));
    ffn_norm = register_module("ffn_norm", rms_norm(dim, s.norm_eps));
    w1 = register_module("w1", lora_linear(dim, s.ff_dim, false));
    w2 = register_module("w2", lora_linear(s.ff_dim, dim, false));
    w3 = register_module("w3", lora_linear(dim, s.ff_dim, false));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        kv_cache* cache) {
    const auto b = x.size(0), t = x.size(1);
    const auto group = heads_ / kv_heads_;
    auto h = attn_norm(x);
    const int64_t offset = cache ? cache->length : 0;
    auto q = rotate(wq(h).view({b, t, heads_, head_dim_}), cos, sin, offset);
    auto k = rotate(wk(h).view({b, t, kv_heads_, head_dim_}), cos, sin, offset);
    auto v = wv(h).view({b, t, kv_heads_, head_dim_});
    if (cache) {
      cache->k.narrow(1, offset, t).copy_(k);
      cache->v.narrow(1, offset, t).copy_(v);
      cache->length = offset + t;
      k = cache->k.narrow(1, 0, offset + t);
      v = cache->v.narrow(1, 0, offset + t);
    }
#if TORCH_VERSION_MAJOR >= 2
    if (cache == nullptr) {
      // Training and evaluation: LibTorch 2's fused attention (flash or memory-efficient on a
      // GPU) instead of materialising [B, H, T, T] scores. Decoding keeps the explicit path
      // below, which run.c's greedy output is reproduced with. Key/value head h / group serves
      // query head h, as below.
      auto kh = k.transpose(1, 2), vh = v.transpose(1, 2);
      if (group > 1) {
        kh = kh.repeat_interleave(group, 1);
        vh = vh.repeat_interleave(group, 1);
      }
      auto att = at::scaled_dot_product_attention(q.transpose(1, 2), kh, vh, {}, 0.0, t > 1);
      auto y = x + wo(att.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
      auto f = ffn_norm(y);
      return y + w2(torch::silu(w1(f)) * w3(f));
    }
#endif
    const auto len = k.size(1);
    // Query head kv * group + g attends with key/value head kv: [B, KV, G, T, hd] against
    // [B, KV, 1, L, hd], broadcast over the group instead of copying keys per query head.
    auto qg = q.view({b, t, kv_heads_, group, head_dim_}).permute({0, 2, 3, 1, 4});
    auto kg = k.permute({0, 2, 1, 3}).unsqueeze(2);
    auto vg = v.permute({0, 2, 1, 3}).unsqueeze(2);
    auto scores = torch::matmul(qg, kg.transpose(-1, -2)) / std::sqrt(double(head_dim_));
    if (t > 1) {
      auto opts = torch::TensorOptions().dtype(torch::kLong).device(x.device());
      auto future =
          torch::arange(len, opts).unsqueeze(0) > (torch::arange(t, opts) + offset).unsqueeze(1);
      scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    }
    auto att = torch::matmul(torch::softmax(scores, -1), vg); // [B, KV, G, T, hd]
    auto y = x + wo(att.permute({0, 3, 1, 2, 4}).reshape({b, t, heads_ * head_dim_}));
    auto f = ffn_norm(y);
    return y + w2(torch::silu(w1(f)) * w3(f));
  }

  rms_norm attn_norm{nullptr}, ffn_norm{nullptr};
  lora_linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};
  lora_linear w1{nullptr}, w2{nullptr}, w3{nullptr};

private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE_IMPL(llama_block, llama_block_impl);

class llama_model final : public llama_network {
public:
  llama_model(const model_spec& s, const data_shape& d)
      : spec_(s), kv_heads_(s.kv_heads > 0 ? s.kv_heads : s.heads), vocab_(d.vocab_size) {
    emb_ = register_module("tok_embeddings", torch::nn::Embedding(vocab_, s.embed_dim));
    torch::nn::init::normal_(emb_->weight, 0.0, 0.02);
    for (int64_t i = 0; i < s.layers; ++i)
      blocks_.push_back(register_module("layer" + std::to_string(i), llama_block(s, kv_heads_)));
    norm_ = register_module("norm", rms_norm(s.embed_dim, s.norm_eps));
    if (!s.tied)
      head_ = register_module("output", lora_linear(s.embed_dim, vocab_, false));
    auto [cos, sin] = rope_tables(s.max_length, s.embed_dim / s.heads, s.rope_theta);
    cos_ = register_buffer("rope_cos", cos);
    sin_ = register_buffer("rope_sin", sin);
  }

  task_kind task() const override { return task_kind::language_model; }

  torch::Tensor forward(const torch::Tensor& tokens) override { return run(tokens, nullptr); }

  torch::Tensor forward_cached(const torch::Tensor& tokens,
                               std::vector<kv_cache>& caches) override {
    if (caches.size() != blocks_.size())
      caches = make_cache(tokens.size(0));
    return run(tokens, &caches);
  }

  std::vector<torch::Tensor> head_parameters() override {
    return head_ ? head_->parameters() : std::vector<torch::Tensor>{emb_->weight};
  }
  void replace_head(int64_t) override {}
  std::vector<lora_linear> linears() override {
    std::vector<lora_linear> out;
    for (auto& b : blocks_)
      for (auto* l : {&b->wq, &b->wk, &b->wv, &b->wo, &b->w1, &b->w2, &b->w3})
        out.push_back(*l);
    if (head_)
      out.push_back(head_);
    return out;
  }
  int64_t max_length() const override { return spec_.max_length; }

  std::map<std::string, torch::Tensor> canonical_tensors() override {
    std::map<std::string, torch::Tensor> out;
    out["token_embd.weight"] = emb_->weight;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const auto p = "blk." + std::to_string(i) + ".";
      auto& b = blocks_[i];
      out[p + "attn_norm.weight"] = b->attn_norm->weight;
      out[p + "attn_q.weight"] = b->wq->base->weight;
      out[p + "attn_k.weight"] = b->wk->base->weight;
      out[p + "attn_v.weight"] = b->wv->base->weight;
      out[p + "attn_output.weight"] = b->wo->base->weight;
      out[p + "ffn_norm.weight"] = b->ffn_norm->weight;
      out[p + "ffn_gate.weight"] = b->w1->base->weight;
      out[p + "ffn_down.weight"] = b->w2->base->weight;
      out[p + "ffn_up.weight"] = b->w3->base->weight;
    }
    out["output_norm.weight"] = norm_->weight;
    if (head_)
      out["output.weight"] = head_->base->weight;
    return out;
  }

  bool fused_decode_ok() override {
    const auto home = emb_->weight.device();
    for (auto& p : parameters())
      if (p.device() != home || p.scalar_type() != torch::kFloat32 || !p.is_contiguous())
        return false;
    for (auto& l : linears())
      if (l->has_lora() || l->quantized())
        return false;
    return true;
  }

  kernels::llama_decode_weights decode_weights() override {
    kernels::llama_decode_weights w;
    w.dim = static_cast<int32_t>(spec_.embed_dim);
    w.hidden_dim = static_cast<int32_t>(spec_.ff_dim);
    w.n_layers = static_cast<int32_t>(spec_.layers);
    w.n_heads = static_cast<int32_t>(spec_.heads);
    w.n_kv_heads = static_cast<int32_t>(kv_heads_);
    w.vocab_size = static_cast<int32_t>(vocab_);
    w.seq_len = static_cast<int32_t>(spec_.max_length);
    w.norm_eps = static_cast<float>(spec_.norm_eps);
    w.rope_theta = static_cast<float>(spec_.rope_theta);
    auto ptr = [](const torch::Tensor& t) { return t.data_ptr<float>(); };
    w.embedding = ptr(emb_->weight);
    w.final_norm = ptr(norm_->weight);
    w.classifier = head_ ? ptr(head_->base->weight) : w.embedding;
    for (auto& b : blocks_)
      w.blocks.push_back(
          {ptr(b->attn_norm->weight), ptr(b->wq->base->weight), ptr(b->wk->base->weight),
           ptr(b->wv->base->weight), ptr(b->wo->base->weight), ptr(b->ffn_norm->weight),
           ptr(b->w1->base->weight), ptr(b->w2->base->weight), ptr(b->w3->base->weight)});
    return w;
  }

  std::vector<kv_cache> make_cache(int64_t batch) override {
    const auto head_dim = spec_.embed_dim / spec_.heads;
    auto opts = emb_->weight.options().requires_grad(false);
    auto k = torch::zeros({spec_.layers, batch, spec_.max_length, kv_heads_, head_dim}, opts);
    auto v = torch::zeros_like(k);
    std::vector<kv_cache> out(blocks_.size());
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      out[i].k = k[static_cast<int64_t>(i)];
      out[i].v = v[static_cast<int64_t>(i)];
    }
    return out;
  }

private:
  torch::Tensor run(const torch::Tensor& tokens, std::vector<kv_cache>* caches) {
    auto h = emb_(tokens);
    for (std::size_t i = 0; i < blocks_.size(); ++i)
      h = blocks_[i](h, cos_, sin_, caches ? &(*caches)[i] : nullptr);
    h = norm_(h);
    return head_ ? head_(h) : torch::matmul(h, emb_->weight.t());
  }

  model_spec spec_;
  int64_t kv_heads_;
  int64_t vocab_;
  torch::nn::Embedding emb_{nullptr};
  std::vector<llama_block> blocks_;
  rms_norm norm_{nullptr};
  lora_linear head_{nullptr};
  torch::Tensor cos_, sin_;
};

} // namespace

std::shared_ptr<network> make_llama(const model_spec& spec, const data_shape& shape) {
  return std::make_shared<llama_model>(spec, shape);
}

} // namespace llmos::model::nn
