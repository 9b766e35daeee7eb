#include "model/formats/safetensors_file.hpp"

#include <deque>
#include <filesystem>
#include <fstream>
#include <span>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/hf_config.hpp"
#include "model/formats/hf_json.hpp"
#include "model/formats/hf_tokenizer.hpp"
#include "model/formats/safetensors_container.hpp"
#include "model/formats/sentencepiece_proto.hpp"

namespace llmos::model {

namespace {

namespace fs = std::filesystem;

/// Whether `path` exists; an unreadable folder counts as absent (the later open names it).
bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

caf::error refuse(const std::string& where, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": " + what);
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// Per-layer tensors: the canonical (GGUF) suffix and the transformers one.
constexpr std::pair<const char*, const char*> layer_names[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"}};

/// The transformers name of a canonical tensor name (one of tensor_names()).
std::string hf_name(const std::string& canonical) {
  if (canonical == "token_embd.weight")
    return "model.embed_tokens.weight";
  if (canonical == "output_norm.weight")
    return "model.norm.weight";
  if (canonical == "output.weight")
    return "lm_head.weight";
  const auto dot = canonical.find('.', 4); // "blk.N.suffix"
  const auto suffix = canonical.substr(dot + 1);
  for (auto& [ours, theirs] : layer_names)
    if (suffix == ours)
      return "model.layers." + canonical.substr(4, dot - 4) + "." + theirs;
  return canonical;
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// How many heads the rows of a q or k projection split into; 0 for other tensors.
int64_t rotary_heads(const std::string& canonical, const llama_config& c) {
  if (ends_with(canonical, ".attn_q.weight"))
    return c.n_heads;
  if (ends_with(canonical, ".attn_k.weight"))
    return c.n_kv_heads;
  return 0;
}

/// Moves the rows of a q or k projection between the interleaved rotary layout (RoPE rotates
/// rows 2i and 2i+1 of a head) and transformers' half-split one (rows i and i + head_dim/2).
/// transformers' convert script maps interleaved -> half-split with
/// w.view(n_heads, hd/2, 2, in).transpose(1, 2); reading undoes it.
std::vector<float> permute_rotary(std::span<const float> w, int64_t n_heads, int64_t rows,
                                  int64_t cols, bool to_interleaved) {
  const int64_t hd = rows / n_heads, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t interleaved = h * hd + 2 * i + j, split = h * hd + j * half + i;
        const int64_t from = to_interleaved ? split : interleaved;
        const int64_t to = to_interleaved ? interleaved : split;
        std::copy_n(w.begin() + from * cols, cols, out.begin() + to * cols);
      }
  return out;
}

/// The weights files of a folder: one model.safetensors, or the shards an index names.
struct weight_files {
  std::vector<safetensors_header> headers;
  std::map<std::string, std::size_t> holder; ///< tensor name -> index into headers
  std::string listing;                       ///< the file that lists the tensors
  std::vector<std::string> shards;           ///< sorted paths when sharded, else empty
};

caf::expected<weight_files> open_sharded(const std::string& folder, const std::string& index) {
  auto j = load_json_object(index);
  if (!j)
    return j.error();
  auto map = j->find("weight_map");
  if (map == j->end() || !map->is_object())
    return refuse_field(index, "weight_map", "missing or not an object");
  weight_files out;
  out.listing = index;
  std::map<std::string, std::size_t> by_file;
  for (auto& [name, file] : map->items()) {
    if (!file.is_string() || file.get<std::string>().empty() ||
        file.get<std::string>().find_first_of("/\\") != std::string::npos ||
        file.get<std::string>() == "." || file.get<std::string>() == "..")
      return refuse_field(index, "weight_map",
                          "tensor '" + name + "' is placed in " + file.dump() +
                              ", not a file name within the folder");
    const auto path = folder + "/" + file.get<std::string>();
    auto [it, fresh] = by_file.emplace(path, out.headers.size());
    if (fresh) {
      auto h = read_safetensors_header(path);
      if (!h)
        return h.error();
      out.headers.push_back(std::move(*h));
    }
    if (!out.headers[it->second].tensors.count(name))
      return refuse(path, "tensor '" + name + "': missing (" + index + " places it here)");
    out.holder[name] = it->second;
  }
  for (auto& [path, at] : by_file)
    out.shards.push_back(path);
  return out;
}

/// The lineage of the weights: model.safetensors' sha256, or for shards the sha256 of their
/// "FILE SHA256" lines in file name order. Computed after the checks: it reads every byte.
caf::expected<std::string> lineage(const weight_files& files) {
  if (files.shards.empty())
    return sha256_file(files.listing);
  std::string digests;
  for (auto& path : files.shards) {
    auto sha = sha256_file(path);
    if (!sha)
      return sha.error();
    digests += fs::path(path).filename().string() + " " + *sha + "\n";
  }
  return sha256_hex(digests);
}

caf::expected<weight_files> open_weights(const std::string& folder) {
  const auto single = folder + "/model.safetensors";
  const auto index = folder + "/model.safetensors.index.json";
  if (!exists(single)) {
    if (exists(index))
      return open_sharded(folder, index);
    return refuse(folder, "holds neither model.safetensors nor model.safetensors.index.json");
  }
  auto h = read_safetensors_header(single);
  if (!h)
    return h.error();
  weight_files out;
  for (auto& [name, entry] : h->tensors)
    out.holder[name] = 0;
  out.headers.push_back(std::move(*h));
  out.listing = single;
  return out;
}

caf::expected<dataset::scored_vocab> read_tokenizer(const std::string& folder,
                                                    const hf_llama_config& hf) {
  const auto json_path = folder + "/tokenizer.json", model_path = folder + "/tokenizer.model";
  auto v = exists(json_path)    ? read_hf_tokenizer(json_path)
           : exists(model_path) ? read_sentencepiece_model(model_path)
                                : caf::expected<dataset::scored_vocab>{refuse(
                                      folder, "holds neither tokenizer.json nor tokenizer.model")};
  if (!v)
    return v;
  if (auto e = apply_hf_tokenizer_config(folder + "/tokenizer_config.json", *v))
    return e;
  using id_field = std::tuple<const char*, const std::optional<int32_t>*, int32_t*>;
  for (auto [key, given, id] :
       {id_field{"bos_token_id", &hf.bos, &v->bos}, id_field{"eos_token_id", &hf.eos, &v->eos},
        id_field{"pad_token_id", &hf.pad, &v->pad}}) {
    if (!*given)
      continue;
    if (**given >= v->size())
      return refuse_field(folder + "/config.json", key,
                          std::to_string(**given) + " is outside the vocabulary of " +
                              std::to_string(v->size()) + " pieces");
    *id = **given;
  }
  return v;
}

/// Writes `text` to `path` through a temporary file renamed over it.
caf::error write_text_atomic(const std::string& path, const std::string& text) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      return make_llmos_error(error_code::io_failed, tmp + ": cannot be written");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return make_llmos_error(error_code::io_failed, path + ": cannot be replaced: " + ec.message());
  return {};
}

/// The tensors a config needs, by Hugging Face name: llmos's name and the shape.
using needed_tensors = std::map<std::string, std::pair<std::string, std::vector<int64_t>>>;

/// Every tensor in the files is one the config needs, of a dtype read and the needed shape, and
/// none is missing.
caf::error check_tensors(const weight_files& files, const llama_config& c,
                         const needed_tensors& needed) {
  for (auto& [name, at] : files.holder) {
    const auto& h = files.headers[at];
    const auto& e = h.tensors.at(name);
    // Older transformers saved RoPE's inverse frequencies, recomputed from rope_theta; a tied
    // model may also carry a copy of the embedding as lm_head.
    if (ends_with(name, ".rotary_emb.inv_freq") || (name == "lm_head.weight" && c.tied))
      continue;
    auto it = needed.find(name);
    if (it == needed.end())
      return refuse(h.path, "tensor '" + name + "': not part of a LlamaForCausalLM with " +
                                std::to_string(c.n_layers) + " layers (config.json)");
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
      return refuse(h.path, "tensor '" + name + "': dtype " + e.dtype +
                                " is not read (F32, F16, BF16 are)");
    if (e.shape != it->second.second)
      return refuse(h.path, "tensor '" + name + "': shape " + shape_text(e.shape) +
                                " disagrees with config.json, which needs " +
                                shape_text(it->second.second));
  }
  for (auto& [name, canonical] : needed)
    if (!files.holder.count(name))
      return refuse(files.listing, "tensor '" + name + "': missing");
  return caf::none;
}

} // namespace

caf::expected<llama_weights> read_safetensors(const std::string& folder) {
  auto hf = read_hf_config(folder + "/config.json");
  if (!hf)
    return hf.error();
  auto files = open_weights(folder);
  if (!files)
    return files.error();
  llama_weights w;
  auto& c = w.config = hf->config;
  // Without lm_head.weight the classifier can only be the embedding, whatever config.json says.
  c.tied = c.tied || !files->holder.count("lm_head.weight");
  needed_tensors needed; // by HF name
  for (auto& [name, shape] : tensor_names(c))
    needed[hf_name(name)] = {name, shape};
  if (auto e = check_tensors(*files, c, needed))
    return e;
  for (auto& [name, canonical] : needed) {
    auto data = read_safetensors_f32(files->headers[files->holder.at(name)], name);
    if (!data)
      return data.error();
    w.tensors.emplace(canonical.first, f32_tensor{canonical.second, std::move(*data)});
  }
  auto vocab = read_tokenizer(folder, *hf);
  if (!vocab)
    return vocab.error();
  w.vocab = std::move(*vocab);
  auto chat_template = read_hf_chat_template(folder + "/tokenizer_config.json");
  if (!chat_template)
    return chat_template.error();
  w.chat_template = std::move(*chat_template);
  // validate() also vouches for the head sizes the permutation below relies on.
  if (auto e = validate(w, folder))
    return e;
  for (auto& [name, t] : w.tensors)
    if (auto heads = rotary_heads(name, c))
      t.data = permute_rotary(t.data, heads, t.shape[0], t.shape[1], true);
  auto sha = lineage(*files);
  if (!sha)
    return sha.error();
  w.source = folder;
  w.source_sha256 = std::move(*sha);
  w.format = "safetensors";
  return w;
}

caf::error write_safetensors(const llama_weights& w, const std::string& folder) {
  if (auto e = validate(w, folder + " (to write)"))
    return e;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec)
    return make_llmos_error(error_code::io_failed,
                            folder + ": cannot create the folder: " + ec.message());
  auto tokenizer = hf_tokenizer_json(w.vocab, folder + "/tokenizer.json");
  if (!tokenizer)
    return tokenizer.error();
  auto tokenizer_config = hf_tokenizer_config_json(w.vocab, w.config.seq_len, w.chat_template);
  if (!tokenizer_config)
    return tokenizer_config.error();
  std::vector<safetensors_f32_view> views;
  std::deque<std::vector<float>> permuted; // a deque keeps the views' spans valid
  for (auto& [name, shape] : tensor_names(w.config)) {
    std::span<const float> data = w.tensors.at(name).data;
    if (auto heads = rotary_heads(name, w.config))
      data = permuted.emplace_back(permute_rotary(data, heads, shape[0], shape[1], false));
    views.push_back({hf_name(name), shape, data});
  }
  if (auto e = write_safetensors_f32(folder + "/model.safetensors", views))
    return e;
  if (auto e = write_text_atomic(folder + "/tokenizer.json", *tokenizer))
    return e;
  if (auto e = write_text_atomic(folder + "/tokenizer_config.json", *tokenizer_config))
    return e;
  // config.json last: a folder whose writing stopped half-way is not mistaken for a model.
  return write_text_atomic(folder + "/config.json", hf_config_json(w));
}

} // namespace llmos::model
