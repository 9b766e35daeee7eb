// Shared by the safetensors tests: Hugging Face folders composed by hand the way transformers
// writes them (config.json, model.safetensors with F32/F16/BF16 tensors under transformers'
// names, a Llama-2-style tokenizer.json), independently of model::write_safetensors, so that a
// mistake shared by the library's reader and writer cannot hide behind a round trip; plus the
// refusal message of a read.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/safetensors_file.hpp"

#include "../../temp_folder.hpp"

namespace llmos::test::hf_files {

namespace fs = std::filesystem;
using dataset::piece_type;
using json = nlohmann::ordered_json;

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void spit(const std::string& path, const std::string& bytes) {
  // A fresh file, not a truncated one: ext4 flushes a file truncated and rewritten on close
  // (auto_da_alloc), which turns the loops over cut files into seconds of disk waits.
  fs::remove(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// The message read_safetensors refused `folder` with ("" and a failure when it was read).
inline std::string refusal(const std::string& folder) {
  auto w = model::read_safetensors(folder);
  if (w) {
    ADD_FAILURE() << folder << " was read, a refusal was expected";
    return "";
  }
  return describe(w.error());
}

// --- hand-built files, written the way transformers writes them -----------------------------

struct raw_tensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

inline std::string safetensors_bytes(const std::vector<raw_tensor>& tensors) {
  json header = {{"__metadata__", {{"format", "pt"}}}};
  uint64_t offset = 0;
  for (auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  const auto text = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out += text;
  for (auto& t : tensors)
    out += t.bytes;
  return out;
}

/// float -> F16 bits for values exact in F16 (normal numbers with 11 significant bits, zero).
inline uint16_t f16_bits(float f) {
  const auto b = std::bit_cast<uint32_t>(f);
  if ((b & 0x7fffffffu) == 0)
    return static_cast<uint16_t>(b >> 16);
  const uint32_t exp = ((b >> 23) & 0xffu) - 127 + 15;
  return static_cast<uint16_t>(((b >> 16) & 0x8000u) | (exp << 10) | ((b >> 13) & 0x3ffu));
}

inline std::string encode(const std::vector<float>& v, const std::string& dtype) {
  std::string out;
  for (float f : v) {
    if (dtype == "F32") {
      out.append(reinterpret_cast<const char*>(&f), 4);
      continue;
    }
    const auto bits =
        dtype == "F16" ? f16_bits(f) : static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16);
    out += static_cast<char>(bits & 0xff);
    out += static_cast<char>(bits >> 8);
  }
  return out;
}

/// A tiny config with head size 8, so the rotary permutation moves rows visibly.
inline model::llama_config tiny_config(bool tied = true) {
  model::llama_config c;
  c.dim = 16, c.hidden_dim = 32, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1;
  c.vocab_size = 10, c.seq_len = 32, c.norm_eps = 1e-5, c.rope_theta = 500000.0, c.tied = tied;
  return c;
}

/// The transformers tensors of `c` with their shapes, written out by hand (independently of the
/// reader's own table).
inline std::vector<std::pair<std::string, std::vector<int64_t>>>
hf_shapes(const model::llama_config& c) {
  const auto d = c.dim, kv = c.kv_dim(), h = c.hidden_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out{
      {"model.embed_tokens.weight", {c.vocab_size, d}}};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto p = "model.layers." + std::to_string(l) + ".";
    out.insert(out.end(), {{p + "input_layernorm.weight", {d}},
                           {p + "self_attn.q_proj.weight", {d, d}},
                           {p + "self_attn.k_proj.weight", {kv, d}},
                           {p + "self_attn.v_proj.weight", {kv, d}},
                           {p + "self_attn.o_proj.weight", {d, d}},
                           {p + "post_attention_layernorm.weight", {d}},
                           {p + "mlp.gate_proj.weight", {h, d}},
                           {p + "mlp.up_proj.weight", {h, d}},
                           {p + "mlp.down_proj.weight", {d, h}}});
  }
  if (!c.tied)
    out.push_back({"lm_head.weight", {c.vocab_size, d}});
  out.push_back({"model.norm.weight", {d}});
  return out;
}

using value_fn = std::function<float(std::size_t tensor, int64_t row, int64_t col)>;

/// Values exact in F32, F16 and BF16 (n / 128 with |n| <= 100).
inline float exact_value(std::size_t k, int64_t r, int64_t c) {
  return static_cast<float>((static_cast<int64_t>(k) * 31 + r * 7 + c * 3) % 201 - 100) / 128.0f;
}

inline std::vector<raw_tensor> hf_tensors(const model::llama_config& c, const std::string& dtype,
                                          const value_fn& value = exact_value) {
  std::vector<raw_tensor> out;
  for (auto& [name, shape] : hf_shapes(c)) {
    const int64_t rows = shape.size() == 2 ? shape[0] : 1, cols = shape.back();
    std::vector<float> v;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t col = 0; col < cols; ++col)
        v.push_back(value(out.size(), r, col));
    out.push_back({name, dtype, shape, encode(v, dtype)});
  }
  return out;
}

inline json config_json(const model::llama_config& c) {
  return {{"architectures", {"LlamaForCausalLM"}},
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
          {"tie_word_embeddings", c.tied},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "float16"}};
}

/// A Llama-2-style tokenizer.json of 10 pieces (merges as "a b" strings or as pairs).
inline json tokenizer_json(bool pair_merges = false) {
  const std::string s = "\xE2\x96\x81";
  json merges = pair_merges ? json::array({json::array({s, "a"}), json::array({"a", "b"}),
                                           json::array({s + "a", "b"})})
                            : json{s + " a", "a b", s + "a b"};
  json added = json::array();
  for (auto [id, text] : {std::pair{0, "<unk>"}, std::pair{1, "<s>"}, std::pair{2, "</s>"}})
    added.push_back({{"id", id}, {"content", text}, {"special", true}, {"normalized", false}});
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", s}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", s}}}}}},
          {"pre_tokenizer", nullptr},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"byte_fallback", true},
            {"vocab",
             {{"<unk>", 0},
              {"<s>", 1},
              {"</s>", 2},
              {s, 3},
              {"a", 4},
              {"b", 5},
              {s + "a", 6},
              {"ab", 7},
              {"<0x0A>", 8},
              {s + "ab", 9}}},
            {"merges", merges}}}};
}

inline const std::vector<std::string> tiny_pieces = {"<unk>", "<s>", "</s>", " ",      "a",
                                                     "b",     " a",  "ab",   "<0x0A>", " ab"};
inline const std::vector<piece_type> tiny_types = {
    piece_type::unknown, piece_type::control, piece_type::control, piece_type::normal,
    piece_type::normal,  piece_type::normal,  piece_type::normal,  piece_type::normal,
    piece_type::byte,    piece_type::normal};

/// `text` with SentencePiece's '▁' for the space.
inline std::string spm(const std::string& text) {
  std::string out;
  for (char ch : text)
    out += ch == ' ' ? std::string{"\xE2\x96\x81"} : std::string(1, ch);
  return out;
}

/// A folder as transformers would save it: config.json, model.safetensors, tokenizer.json.
inline void write_hf_folder(const std::string& dir, const model::llama_config& c,
                            const std::vector<raw_tensor>& tensors) {
  fs::create_directories(dir);
  spit(dir + "/config.json", config_json(c).dump(2));
  spit(dir + "/model.safetensors", safetensors_bytes(tensors));
  spit(dir + "/tokenizer.json", tokenizer_json().dump(2));
}

/// The F32 values of tensor `name` in the safetensors file at `path`, read here independently.
inline std::vector<float> raw_f32(const std::string& path, const std::string& name) {
  const auto bytes = slurp(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  const auto& e = header.at(name);
  EXPECT_EQ(e.at("dtype"), "F32");
  const auto begin = e.at("data_offsets")[0].get<std::size_t>();
  const auto end = e.at("data_offsets")[1].get<std::size_t>();
  std::vector<float> out((end - begin) / 4);
  std::memcpy(out.data(), bytes.data() + 8 + n + begin, end - begin);
  return out;
}

inline void expect_same_tensors(const model::llama_weights& a, const model::llama_weights& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(t.shape, b.tensors.at(name).shape) << name;
    EXPECT_EQ(t.data, b.tensors.at(name).data) << name;
  }
}

inline void expect_refusal(const std::string& folder, const std::vector<std::string>& parts) {
  const auto why = refusal(folder);
  for (auto& p : parts)
    EXPECT_NE(why.find(p), std::string::npos) << "'" << p << "' not in: " << why;
}

/// A valid hand-built folder whose tensors `edit` changes first.
inline std::string edited_folder(const temp_folder& dir,
                                 const std::function<void(std::vector<raw_tensor>&)>& edit,
                                 model::llama_config c = tiny_config()) {
  auto tensors = hf_tensors(tiny_config(), "F32");
  edit(tensors);
  write_hf_folder(dir / "hf", c, tensors);
  return dir / "hf";
}

} // namespace llmos::test::hf_files
