#include "model/nn/blocks.hpp"

#include <cmath>

#include "model/nn/int8_linear.hpp"

namespace llmos::model::nn {

lora_linear_impl::lora_linear_impl(int64_t in, int64_t out, bool bias) {
  base = register_module("base", torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias)));
}

torch::Tensor lora_linear_impl::forward(const torch::Tensor& x) {
  if (!packed_.isNone())
    return linear_int8(x, packed_);
  auto y = base(x);
  if (lora_a_.defined())
    y = y + torch::matmul(torch::matmul(x, lora_a_.t()), lora_b_.t()) * scale_;
  return y;
}

void lora_linear_impl::enable_lora(int64_t rank, double alpha) {
  const auto in = base->weight.size(1);
  const auto out = base->weight.size(0);
  // On the base's device and dtype: adapters added to a model placed on a GPU live there too.
  const auto opts = base->weight.options().requires_grad(false);
  auto a = torch::empty({rank, in}, opts);
  torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
  lora_a_ = register_parameter("lora_a", a);
  lora_b_ = register_parameter("lora_b", torch::zeros({out, rank}, opts));
  scale_ = alpha / static_cast<double>(rank);
}

void lora_linear_impl::merge_lora() {
  if (!lora_a_.defined())
    return;
  {
    torch::NoGradGuard no_grad;
    base->weight.add_(torch::matmul(lora_b_, lora_a_) * scale_);
  }
  // Module has no unregister_parameter in 1.13: drop them from the parameter dict by name.
  parameters_.erase("lora_a");
  parameters_.erase("lora_b");
  lora_a_ = torch::Tensor();
  lora_b_ = torch::Tensor();
}

torch::Tensor lora_linear_impl::merged_weight() const {
  if (!lora_a_.defined())
    return base->weight;
  return base->weight + torch::matmul(lora_b_, lora_a_) * scale_;
}

void lora_linear_impl::quantize_int8() {
  merge_lora();
  packed_ = pack_int8(base->weight, base->bias);
}

std::vector<torch::Tensor> lora_linear_impl::lora_parameters() const {
  if (!lora_a_.defined())
    return {};
  return {lora_a_, lora_b_};
}

attention_impl::attention_impl(int64_t dim, int64_t heads, double dropout)
    : heads_(heads), dropout_(dropout) {
  qkv = register_module("qkv", lora_linear(dim, 3 * dim));
  out = register_module("out", lora_linear(dim, dim));
}

torch::Tensor attention_impl::forward(const torch::Tensor& x, const torch::Tensor& pad_mask,
                                      bool causal, kv_cache* cache) {
  const auto b = x.size(0);
  const auto t = x.size(1);
  const auto d = x.size(2);
  const auto hd = d / heads_;
  auto parts = qkv(x).view({b, t, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
  auto q = parts[0];
  auto k = parts[1];
  auto v = parts[2];
  int64_t past = 0;
  if (cache) {
    if (cache->k.defined()) {
      past = cache->k.size(2);
      k = torch::cat({cache->k, k}, 2);
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  const auto total = k.size(2);
  if (causal && t > 1) {
    // Query i (at absolute position past + i) may see keys 0..past+i.
    auto future = torch::ones({t, total}, q.options().dtype(torch::kBool)).triu(past + 1);
    scores = scores.masked_fill(future, -1e9);
  }
  if (pad_mask.defined())
    scores = scores.masked_fill(pad_mask.view({b, 1, 1, total}), -1e9);
  auto weights = torch::softmax(scores, -1);
  weights = torch::dropout(weights, dropout_, is_training());
  auto y = torch::matmul(weights, v).transpose(1, 2).reshape({b, t, d});
  return out(y);
}

transformer_block_impl::transformer_block_impl(int64_t dim, int64_t heads, int64_t ff_dim,
                                               double dropout) {
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn = register_module("attn", attention(dim, heads, dropout));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ff1 = register_module("ff1", lora_linear(dim, ff_dim));
  ff2 = register_module("ff2", lora_linear(ff_dim, dim));
  drop_ = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor transformer_block_impl::forward(const torch::Tensor& x, const torch::Tensor& pad_mask,
                                              bool causal, kv_cache* cache) {
  auto h = x + drop_(attn(ln1_(x), pad_mask, causal, cache));
  return h + drop_(ff2(torch::gelu(ff1(ln2_(h)))));
}

token_embedding_impl::token_embedding_impl(int64_t vocab, int64_t max_length, int64_t dim)
    : max_length_(max_length) {
  tok_ = register_module("tok", torch::nn::Embedding(vocab, dim));
  pos_ = register_module("pos", torch::nn::Embedding(max_length, dim));
}

torch::Tensor token_embedding_impl::forward(const torch::Tensor& tokens, int64_t offset) {
  auto positions =
      torch::arange(offset, offset + tokens.size(1), tokens.options().dtype(torch::kLong));
  return tok_(tokens) + pos_(positions).unsqueeze(0);
}

classifier_head_impl::classifier_head_impl(int64_t in, int64_t classes, double dropout) {
  drop_ = register_module("drop", torch::nn::Dropout(dropout));
  fc_ = register_module("fc", torch::nn::Linear(in, classes));
}

torch::Tensor classifier_head_impl::forward(const torch::Tensor& x) {
  return fc_(drop_(x));
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& keep) {
  auto w = keep.to(x.dtype()).unsqueeze(-1);
  return (x * w).sum(1) / w.sum(1).clamp_min(1.0);
}

} // namespace llmos::model::nn
