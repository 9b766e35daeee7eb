// The decode step of a Llama-architecture network as one fused CPU kernel: for each sequence of
// a batch, one new token goes through embedding, every block (RMSNorm, q/k/v, rotary, grouped-
// query attention over the sequence's KV cache, output projection, RMSNorm, SwiGLU) and the
// classifier, writing its keys and values into the cache at its position. A model this small
// (stories260K: dim 64) is bound by per-operator overhead in LibTorch (~40 dispatched ops per
// layer per token); here a token costs only its arithmetic. `llama_decode_reference` is the plain
// loop version the fast one is checked against (and the engine checks both against its LibTorch
// network). Weights are borrowed, never copied: they are the network's own parameters.
#pragma once

#include <cstdint>
#include <vector>

namespace llmos::kernels {

/// One block's weights, row-major [out, in] as torch::nn::Linear stores them; q and k in the
/// interleaved rotary layout (pairs (2i, 2i+1) of each head rotate together).
struct llama_block_weights {
  const float* attn_norm = nullptr; ///< [dim]
  const float* wq = nullptr;        ///< [dim, dim]
  const float* wk = nullptr;        ///< [kv_dim, dim]
  const float* wv = nullptr;        ///< [kv_dim, dim]
  const float* wo = nullptr;        ///< [dim, dim]
  const float* ffn_norm = nullptr;  ///< [dim]
  const float* w1 = nullptr;        ///< gate [hidden, dim]
  const float* w2 = nullptr;        ///< down [dim, hidden]
  const float* w3 = nullptr;        ///< up [hidden, dim]
};

struct llama_decode_weights {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0;
  int32_t seq_len = 0; ///< positions a cache holds
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  const float* embedding = nullptr;  ///< [vocab, dim]
  const float* final_norm = nullptr; ///< [dim]
  const float* classifier = nullptr; ///< [vocab, dim] (the embedding when tied)
  std::vector<llama_block_weights> blocks;
};

/// A low-rank adapter (LoRA) of one linear layer: the layer computes W x + scale * B (A x), with
/// A [rank, in] and B [out, rank] row-major. A null `a`: the layer has none.
struct llama_lora {
  const float* a = nullptr;
  const float* b = nullptr;
  int32_t rank = 0;
};

struct llama_block_adapter {
  llama_lora wq, wk, wv, wo, w1, w2, w3;
};

/// One fine-tune's adapters over the base weights (the embedding, norms and classifier are the
/// base's): several fine-tunes of one base share its weights and run in one step, each item with
/// its own adapter or none (S-LoRA's and Punica's way of serving many fine-tunes from one model).
struct llama_adapter_weights {
  float scale = 0.0f; ///< alpha / rank
  std::vector<llama_block_adapter> blocks;
};

/// One sequence's KV cache: for each layer, keys and values of its positions, kv_dim =
/// n_kv_heads * head_dim floats each (`k + layer * layer_stride`, the same for v). Dense (no
/// block table): position p of a layer starts at p * kv_dim. Paged: position p lives in block
/// `blocks[p / block_size]`, which starts at that id * block_size * kv_dim within the layer, at
/// offset (p % block_size) * kv_dim. A paged and a dense cache holding the same values give the
/// same logits to the last bit.
struct llama_kv_view {
  float* k = nullptr;
  float* v = nullptr;
  int64_t layer_stride = 0;        ///< floats between layers (seq_len * kv_dim for a dense cache)
  const int32_t* blocks = nullptr; ///< the block table; null for a dense cache
  int32_t block_size = 0;          ///< positions per block when paged
};

/// Where position `pos` starts within one layer of `c` (in floats from the layer's start).
inline int64_t llama_kv_offset(const llama_kv_view& c, int64_t pos, int64_t kv_dim) {
  if (c.blocks == nullptr)
    return pos * kv_dim;
  return (int64_t{c.blocks[pos / c.block_size]} * c.block_size + pos % c.block_size) * kv_dim;
}

/// One sequence's part of a decode step: its new token, the position it takes (0-based; the
/// cache holds positions [0, pos) already) and where its logits [vocab] go (null: not wanted,
/// e.g. for prompt positions before the last; the classifier then skips the item). Several
/// items may be positions of one sequence (a prefill chunk), in increasing order: each sees the
/// keys and values the ones before it write.
struct llama_decode_item {
  int32_t token = 0;
  int32_t pos = 0;
  llama_kv_view cache;
  float* logits = nullptr;
};

/// Scratch memory a decode step uses, sized once for a batch size and reused (no allocation per
/// token).
class llama_decode_scratch {
public:
  void reserve(const llama_decode_weights& w, int32_t batch);
  std::vector<float> buf;
  std::vector<float> low_rank; ///< A x of one item's adapter
};

/// Runs one decode step for every item (tokens in [0, vocab), pos in [0, seq_len)); items may
/// be of different sequences and positions. Matrices are read once per step for the whole batch
/// (each weight row is applied to every item while it is in cache). `adapters`, when given, holds
/// one entry per item: its adapter, or null for the base alone; an item's results do not depend on
/// the other items' adapters.
void llama_decode(const llama_decode_weights& w, llama_decode_item* items, int32_t count,
                  llama_decode_scratch& scratch,
                  const llama_adapter_weights* const* adapters = nullptr);

/// The plain reference: llama2.c's forward, one item at a time, naive loops.
void llama_decode_reference(const llama_decode_weights& w, llama_decode_item* items, int32_t count,
                            const llama_adapter_weights* const* adapters = nullptr);

} // namespace llmos::kernels
