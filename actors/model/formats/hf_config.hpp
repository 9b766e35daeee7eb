// config.json of a Hugging Face LlamaForCausalLM folder: read into a llama_config and written
// from one. Fields that would change what the network computes and that llmos does not
// implement (rope_scaling, biases, an activation other than SiLU, a head_dim other than
// hidden_size / num_attention_heads) are refused rather than silently ignored.
#pragma once

#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// What config.json says. `config.tied` is tie_word_embeddings (default false); the folder
/// reader also ties the classifier when lm_head.weight is absent.
struct hf_llama_config {
  llama_config config;
  std::optional<int32_t> bos, eos, pad; ///< *_token_id when given (the first of a list)
};

/// Reads config.json at `path`: architectures must contain "LlamaForCausalLM" (or model_type be
/// "llama"); num_key_value_heads defaults to num_attention_heads, rms_norm_eps to 1e-6 (as in
/// transformers' LlamaConfig), rope_theta to 10000. bad_config "PATH: field 'X': what".
caf::expected<hf_llama_config> read_hf_config(const std::string& path);

/// config.json text for `w` (torch_dtype float32, the special ids of its vocabulary).
std::string hf_config_json(const llama_weights& w);

} // namespace llmos::model
