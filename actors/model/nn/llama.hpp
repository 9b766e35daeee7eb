// The Llama architecture (Llama 1/2/3, TinyLlama, stories*, Mistral without sliding windows):
// token embedding, pre-norm blocks with RMSNorm, rotary position embeddings on interleaved pairs,
// grouped-query attention, a SwiGLU feed-forward, a final RMSNorm and a classifier tied to the
// embedding or separate. Every projection is a lora_linear, so LoRA, merging and int8 work as for
// the other architectures. The KV cache of a generation is one tensor preallocated for the whole
// context ([layers, batch, seq_len, kv_heads, head_dim]); each step writes its positions in place
// (no torch::cat per token), and that memory is exactly the layout the fused CPU decode kernel
// (kernels/llama_decode.hpp) reads, so prefill can run in LibTorch and decoding in the kernel on
// the same cache. Torch-only header.
#pragma once

#include <map>
#include <string>

#include <llmos/kernels/llama_decode.hpp>

#include "model/nn/network.hpp"

namespace llmos::model::nn {

class llama_network : public network {
public:
  /// The network's parameters under the canonical GGUF names (formats/llama_weights.hpp), so
  /// importers and exporters copy tensors by name; the output is absent when tied.
  virtual std::map<std::string, torch::Tensor> canonical_tensors() = 0;

  /// Borrowed pointers to the weights for the fused decode kernel; valid while the parameters
  /// are neither replaced nor moved. Only when fused_decode_ok().
  virtual kernels::llama_decode_weights decode_weights() = 0;

  /// True when the fused kernels compute what forward does: contiguous float32 weights all on
  /// one device, no unmerged LoRA adapters, not quantized. The caller picks the kernel of that
  /// device (the CPU's llama_decode, or llama_decode_cuda for a GPU's memory).
  virtual bool fused_decode_ok() = 0;

  /// A zeroed KV cache for `batch` sequences: [layers, batch, seq_len, kv_heads, head_dim] for
  /// keys and values; caches[i] views layer i.
  virtual std::vector<kv_cache> make_cache(int64_t batch) = 0;
};

/// Builds a llama network of `spec` (embed_dim, ff_dim, layers, heads, kv_heads, max_length as
/// the context, norm_eps, rope_theta, tied) for `shape.vocab_size` tokens.
std::shared_ptr<network> make_llama(const model_spec& spec, const data_shape& shape);

} // namespace llmos::model::nn
