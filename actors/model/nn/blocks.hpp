// Building blocks shared by the architectures: a linear layer that can carry LoRA adapters,
// multi-head attention (optionally causal, with a KV cache for generation), a pre-norm
// Transformer block, token+position embeddings, masked mean pooling and a classifier head.
// Every architecture is assembled from these; none re-implements them. Torch-only header: include
// it from the model library's .cpp files, never from widely included headers.
#pragma once

#include <optional>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/torch.h>

namespace llmos::model::nn {

/// nn::Linear plus optional low-rank adapters: y = W x + b + (alpha / r) * B (A x).
/// A is Kaiming-initialised and B zero, so enabling LoRA leaves the output unchanged until
/// training moves B (the LoRA paper's choice).
class lora_linear_impl : public torch::nn::Module {
public:
  lora_linear_impl(int64_t in, int64_t out, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x);

  /// Adds adapters of `rank` (> 0); the base weights stay as they are.
  void enable_lora(int64_t rank, double alpha);
  /// Folds B A into W and drops the adapters: the same function, one matmul at inference.
  void merge_lora();
  /// W plus the adapters' B A scaled, without changing the layer (exports of a LoRA fine-tune).
  torch::Tensor merged_weight() const;
  bool has_lora() const { return lora_a_.defined(); }
  /// alpha / rank: the adapters' factor.
  double lora_scale() const { return scale_; }
  std::vector<torch::Tensor> lora_parameters() const;

  /// Switches forward to a dynamic int8 matmul (inference only; merges LoRA first).
  void quantize_int8();
  bool quantized() const { return !packed_.isNone(); }

  torch::nn::Linear base{nullptr};

private:
  torch::Tensor lora_a_, lora_b_;
  c10::IValue packed_;
  double scale_ = 0.0;
};
TORCH_MODULE_IMPL(lora_linear, lora_linear_impl);

/// Keys and values of one attention layer seen so far in a generation.
/// gpt: k, v [B, heads, T, head_dim] grown per step. llama: k, v [B, seq_len, kv_heads,
/// head_dim] preallocated, `length` positions filled.
struct kv_cache {
  torch::Tensor k, v;
  int64_t length = 0;
};

class attention_impl : public torch::nn::Module {
public:
  attention_impl(int64_t dim, int64_t heads, double dropout);
  /// x [B, T, D]; pad_mask [B, T] true at padding (keys ignored) or undefined; causal masks the
  /// future. With `cache`, keys/values of earlier positions come from it and x's are appended.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pad_mask, bool causal,
                        kv_cache* cache = nullptr);
  lora_linear qkv{nullptr}, out{nullptr};

private:
  int64_t heads_;
  double dropout_;
};
TORCH_MODULE_IMPL(attention, attention_impl);

/// Pre-norm block: x + attn(ln(x)), then x + ff(ln(x)) with a GELU feed-forward.
class transformer_block_impl : public torch::nn::Module {
public:
  transformer_block_impl(int64_t dim, int64_t heads, int64_t ff_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pad_mask, bool causal,
                        kv_cache* cache = nullptr);
  attention attn{nullptr};
  lora_linear ff1{nullptr}, ff2{nullptr};

private:
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE_IMPL(transformer_block, transformer_block_impl);

/// Token embedding plus learned positions; `offset` shifts positions (cached generation).
class token_embedding_impl : public torch::nn::Module {
public:
  token_embedding_impl(int64_t vocab, int64_t max_length, int64_t dim);
  torch::Tensor forward(const torch::Tensor& tokens, int64_t offset = 0);
  int64_t max_length() const { return max_length_; }

private:
  torch::nn::Embedding tok_{nullptr}, pos_{nullptr};
  int64_t max_length_;
};
TORCH_MODULE_IMPL(token_embedding, token_embedding_impl);

/// Dropout then one linear layer: the part fine-tuning replaces.
class classifier_head_impl : public torch::nn::Module {
public:
  classifier_head_impl(int64_t in, int64_t classes, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

private:
  torch::nn::Dropout drop_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE_IMPL(classifier_head, classifier_head_impl);

/// Mean of x [B, T, D] over positions where keep [B, T] is true (all-padding rows give 0).
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& keep);

} // namespace llmos::model::nn
