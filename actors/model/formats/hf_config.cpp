#include "model/formats/hf_config.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "model/formats/hf_json.hpp"

namespace llmos::model {

namespace {

using json = nlohmann::json;

/// A positive integer field; `fallback` (when > 0) stands in for an absent or null one.
caf::error read_size(const std::string& path, const json& j, const char* key, int64_t& out,
                     int64_t fallback = 0) {
  auto it = j.find(key);
  if ((it == j.end() || it->is_null()) && fallback > 0) {
    out = fallback;
    return {};
  }
  if (it == j.end())
    return refuse_field(path, key, "missing");
  // validate() bounds the sizes further; this only keeps them representable.
  if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 ||
      it->get<uint64_t>() > (uint64_t{1} << 40))
    return refuse_field(path, key, it->dump() + " is not a positive integer");
  out = it->get<int64_t>();
  return {};
}

caf::error read_positive(const std::string& path, const json& j, const char* key, double& out,
                         double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    out = fallback;
    return {};
  }
  if (!it->is_number() || !(it->get<double>() > 0.0))
    return refuse_field(path, key, it->dump() + " is not a positive number");
  out = it->get<double>();
  return {};
}

/// A token id: an integer, the first of a list of them (Llama 3.1 lists several EOS ids), or
/// absent / null.
caf::error read_token_id(const std::string& path, const json& j, const char* key,
                         std::optional<int32_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return {};
  const json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;
  if (!v.is_number_unsigned() || v.get<uint64_t>() > (uint64_t{1} << 30))
    return refuse_field(path, key, it->dump() + " is not a token id");
  out = v.get<int32_t>();
  return {};
}

/// Refuses `key` unless it is absent, null or `allowed`.
caf::error require_absent_or(const std::string& path, const json& j, const char* key,
                             const json& allowed, const char* why) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null() || *it == allowed)
    return {};
  return refuse_field(path, key, it->dump() + " is not supported: " + why);
}

caf::expected<hf_llama_config> parse(const std::string& path, const json& j) {
  const auto archs = j.find("architectures");
  const bool llama_arch =
      archs != j.end() && archs->is_array() &&
      std::find(archs->begin(), archs->end(), "LlamaForCausalLM") != archs->end();
  const auto type = j.find("model_type");
  if (!llama_arch && !(type != j.end() && *type == "llama"))
    return refuse_field(path, "architectures",
                        (archs == j.end() ? std::string{"missing"} : archs->dump()) +
                            " is not LlamaForCausalLM (and model_type is not \"llama\"); only "
                            "Llama models are read");
  hf_llama_config out;
  auto& c = out.config;
  using size_field = std::pair<const char*, int64_t*>;
  for (auto [key, field] :
       {size_field{"hidden_size", &c.dim}, size_field{"intermediate_size", &c.hidden_dim},
        size_field{"num_hidden_layers", &c.n_layers}, size_field{"num_attention_heads", &c.n_heads},
        size_field{"vocab_size", &c.vocab_size}, size_field{"max_position_embeddings", &c.seq_len}})
    if (auto e = read_size(path, j, key, *field))
      return e;
  if (auto e = read_size(path, j, "num_key_value_heads", c.n_kv_heads, c.n_heads))
    return e;
  if (auto e = read_positive(path, j, "rms_norm_eps", c.norm_eps, 1e-6))
    return e;
  if (auto e = read_positive(path, j, "rope_theta", c.rope_theta, 10000.0))
    return e;
  c.tied = false;
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      return refuse_field(path, "tie_word_embeddings", it->dump() + " is not true or false");
    c.tied = it->get<bool>();
  }
  if (auto e = require_absent_or(path, j, "rope_scaling", json(nullptr),
                                 "llmos implements plain RoPE only"))
    return e;
  if (auto e = require_absent_or(path, j, "hidden_act", "silu", "Llama uses SiLU (SwiGLU)"))
    return e;
  if (auto e = require_absent_or(path, j, "attention_bias", false, "llmos has no biases"))
    return e;
  if (auto e = require_absent_or(path, j, "mlp_bias", false, "llmos has no biases"))
    return e;
  if (c.n_heads > 0 && c.dim % c.n_heads == 0)
    if (auto e = require_absent_or(path, j, "head_dim", c.dim / c.n_heads,
                                   "the head size must be hidden_size / num_attention_heads"))
      return e;
  using id_field = std::pair<const char*, std::optional<int32_t>*>;
  for (auto [key, id] : {id_field{"bos_token_id", &out.bos}, id_field{"eos_token_id", &out.eos},
                         id_field{"pad_token_id", &out.pad}})
    if (auto e = read_token_id(path, j, key, *id))
      return e;
  return out;
}

} // namespace

caf::expected<hf_llama_config> read_hf_config(const std::string& path) {
  auto j = load_json_object(path);
  if (!j)
    return j.error();
  try {
    return parse(path, *j);
  } catch (const json::exception& e) {
    // Every access above checks its type first; this is the net under a case missed.
    return make_llmos_error(error_code::bad_config,
                            path + ": unexpected JSON structure (" + e.what() + ")");
  }
}

std::string hf_config_json(const llama_weights& w) {
  const auto& c = w.config;
  const auto& v = w.vocab;
  auto id = [&](int32_t i) {
    return i >= 0 && i < v.size() ? nlohmann::ordered_json(i) : nlohmann::ordered_json(nullptr);
  };
  nlohmann::ordered_json j = {{"architectures", {"LlamaForCausalLM"}},
                              {"model_type", "llama"},
                              {"hidden_size", c.dim},
                              {"intermediate_size", c.hidden_dim},
                              {"num_hidden_layers", c.n_layers},
                              {"num_attention_heads", c.n_heads},
                              {"num_key_value_heads", c.n_kv_heads},
                              {"vocab_size", c.vocab_size},
                              {"max_position_embeddings", c.seq_len},
                              {"rms_norm_eps", c.norm_eps},
                              {"rope_theta", c.rope_theta},
                              {"rope_scaling", nullptr},
                              {"hidden_act", "silu"},
                              {"attention_bias", false},
                              {"mlp_bias", false},
                              {"tie_word_embeddings", c.tied},
                              {"bos_token_id", id(v.bos)},
                              {"eos_token_id", id(v.eos)},
                              {"pad_token_id", id(v.pad)},
                              {"torch_dtype", "float32"}};
  return j.dump(2) + "\n";
}

} // namespace llmos::model
