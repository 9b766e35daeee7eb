// The torch-free picture of a pretrained Llama-family model, shared by every file format llmos
// reads and writes (llama2.c, GGUF, safetensors): the hyper-parameters, the tensors as float32
// under one canonical naming, and the scored vocabulary. Importers fill it, exporters read it,
// and the model library turns it into a network (and back). Keeping it plain means the format
// code, its refusals and its fuzzing never wait for LibTorch to compile.
//
// Conventions (those of llama2.c, GGUF and Meta's checkpoints):
// - shapes are row-major with PyTorch's order: a linear layer's weight is [out, in];
// - q and k projections are in the *interleaved* rotary layout: RoPE rotates the pairs
//   (2i, 2i+1) of each head. Hugging Face stores them half-split; its reader permutes them here;
// - tensor names are GGUF's (llama.cpp's), listed by tensor_names().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/tokenize/scored_vocab.hpp"

namespace llmos::model {

/// Hyper-parameters of a Llama-architecture network.
struct llama_config {
  int64_t dim = 0;        ///< embedding width
  int64_t hidden_dim = 0; ///< SwiGLU inner width
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0; ///< grouped-query attention: divides n_heads
  int64_t vocab_size = 0;
  int64_t seq_len = 0;         ///< context length
  double norm_eps = 1e-5;      ///< RMSNorm epsilon
  double rope_theta = 10000.0; ///< rotary base
  bool tied = true;            ///< classifier shares the token embedding (no output.weight)

  int64_t head_dim() const { return n_heads > 0 ? dim / n_heads : 0; }
  int64_t kv_dim() const { return n_heads > 0 ? dim * n_kv_heads / n_heads : 0; }
  friend bool operator==(const llama_config&, const llama_config&) = default;
};

/// A float32 tensor: shape (row-major) and values.
struct f32_tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

/// A whole model: configuration, tensors by canonical name, vocabulary, and where it came from.
struct llama_weights {
  llama_config config;
  std::map<std::string, f32_tensor> tensors;
  dataset::scored_vocab vocab;
  std::string source;        ///< the file or folder it was read from ("" when built in memory)
  std::string source_sha256; ///< sha256 of the main weights file, 64 lowercase hex digits
  std::string format;        ///< "llama2c", "gguf", "safetensors"
  std::string chat_template; ///< Jinja text the file carried for chat prompts ("" = none)
};

/// Every tensor name `c` needs with its shape, in llama2.c's file order:
///   token_embd.weight [vocab, dim]
///   blk.N.attn_norm.weight [dim]        blk.N.attn_q.weight [dim, dim]
///   blk.N.attn_k.weight [kv_dim, dim]   blk.N.attn_v.weight [kv_dim, dim]
///   blk.N.attn_output.weight [dim, dim] blk.N.ffn_norm.weight [dim]
///   blk.N.ffn_gate.weight [hidden, dim] (w1)  blk.N.ffn_down.weight [dim, hidden] (w2)
///   blk.N.ffn_up.weight [hidden, dim] (w3)
///   output_norm.weight [dim]            output.weight [vocab, dim] (only when !c.tied)
std::vector<std::pair<std::string, std::vector<int64_t>>> tensor_names(const llama_config& c);

/// The config's sizes by name, in llama2.c's header order: what every reader checks first.
std::array<std::pair<const char*, int64_t>, 7> sizes_of(const llama_config& c);

/// Checks the configuration (positive sizes, heads dividing dim and each other, even head size)
/// and that every tensor of tensor_names() is present with its shape and data size, and no
/// other; bad_config reads "WHERE: tensor 'NAME': what is wrong".
caf::error validate(const llama_weights& w, const std::string& where);

/// sha256 of `bytes` as 64 lowercase hex digits (lineage of imported files).
std::string sha256_hex(const std::string& bytes);

/// sha256 of the file at `path`; io_failed names it when it cannot be read.
caf::expected<std::string> sha256_file(const std::string& path);

} // namespace llmos::model
