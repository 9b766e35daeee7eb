// Shared by the GGUF tests: files composed field by field, independently of model::write_gguf,
// for the tests that need files the writer never produces (other versions, tensor types,
// offsets, hostile counts, BF16 tensors, keys of every value type), a fresh folder per test,
// and the refusal message of a read. The encoding is spelled out here on purpose, so a mistake
// shared by the library's reader and writer cannot hide behind a round trip.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama_weights.hpp"

namespace llmos::test {

/// Little-endian bytes of a scalar.
template <class T> std::string gguf_raw(T v) {
  std::string s(sizeof v, '\0');
  std::memcpy(s.data(), &v, sizeof v);
  return s;
}

/// A GGUF string: uint64 length, then the bytes.
inline std::string gguf_str(std::string_view s) {
  return gguf_raw(static_cast<uint64_t>(s.size())) + std::string{s};
}

/// Metadata values: the uint32 type, then the payload.
inline std::string gguf_u32(uint32_t v) {
  return gguf_raw(uint32_t{4}) + gguf_raw(v);
}
inline std::string gguf_f32(float v) {
  return gguf_raw(uint32_t{6}) + gguf_raw(v);
}
inline std::string gguf_bool(bool v) {
  return gguf_raw(uint32_t{7}) + gguf_raw(uint8_t{v});
}
inline std::string gguf_string(std::string_view v) {
  return gguf_raw(uint32_t{8}) + gguf_str(v);
}
inline std::string gguf_array(uint32_t elem_type, uint64_t count, const std::string& payload) {
  return gguf_raw(uint32_t{9}) + gguf_raw(elem_type) + gguf_raw(count) + payload;
}

struct gguf_builder {
  struct tensor {
    std::string name;
    std::vector<uint64_t> ne; ///< innermost first
    uint32_t type = 0;
    std::string data;
    std::optional<uint64_t> offset; ///< default: packed after the previous one, aligned to 32
  };

  uint32_t version = 3;
  std::vector<std::pair<std::string, std::string>> kv; ///< key, encoded value (type + payload)
  std::vector<tensor> tensors;

  /// Replaces key `k`'s value, or appends it.
  void set(const std::string& k, std::string value) {
    for (auto& [key, v] : kv)
      if (key == k) {
        v = std::move(value);
        return;
      }
    kv.emplace_back(k, std::move(value));
  }
  void erase(const std::string& k) {
    std::erase_if(kv, [&](auto& e) { return e.first == k; });
  }
  tensor& find(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name)
        return t;
    throw std::out_of_range(name);
  }

  std::string bytes() const {
    auto pad = [](std::string& s) { s.resize((s.size() + 31) / 32 * 32, '\0'); };
    std::string out = "GGUF" + gguf_raw(version) + gguf_raw(uint64_t{tensors.size()}) +
                      gguf_raw(uint64_t{kv.size()});
    for (auto& [k, v] : kv)
      out += gguf_str(k) + v;
    std::string data;
    for (auto& t : tensors) {
      out += gguf_str(t.name) + gguf_raw(static_cast<uint32_t>(t.ne.size()));
      for (auto d : t.ne)
        out += gguf_raw(d);
      out += gguf_raw(t.type) + gguf_raw(t.offset.value_or(data.size()));
      data += t.data;
      pad(data);
    }
    pad(out);
    return out + data;
  }
};

/// `w` as a builder: llama.cpp's keys, norms in F32 and matrices in F32 (type 0) or BF16
/// (type 30, encoded by dropping each float's low 16 bits).
inline gguf_builder llama_gguf(const model::llama_weights& w, uint32_t matrix_type) {
  gguf_builder b;
  const auto& c = w.config;
  const auto& v = w.vocab;
  b.set("general.architecture", gguf_string("llama"));
  b.set("llama.context_length", gguf_u32(static_cast<uint32_t>(c.seq_len)));
  b.set("llama.embedding_length", gguf_u32(static_cast<uint32_t>(c.dim)));
  b.set("llama.block_count", gguf_u32(static_cast<uint32_t>(c.n_layers)));
  b.set("llama.feed_forward_length", gguf_u32(static_cast<uint32_t>(c.hidden_dim)));
  b.set("llama.attention.head_count", gguf_u32(static_cast<uint32_t>(c.n_heads)));
  b.set("llama.attention.head_count_kv", gguf_u32(static_cast<uint32_t>(c.n_kv_heads)));
  b.set("llama.attention.layer_norm_rms_epsilon", gguf_f32(static_cast<float>(c.norm_eps)));
  b.set("llama.rope.freq_base", gguf_f32(static_cast<float>(c.rope_theta)));
  b.set("tokenizer.ggml.model", gguf_string("llama"));
  std::string tokens, scores, types;
  for (std::size_t i = 0; i < v.pieces.size(); ++i) {
    std::string p;
    for (char ch : v.pieces[i])
      p += ch == ' ' ? std::string{"\xE2\x96\x81"} : std::string(1, ch);
    tokens += gguf_str(p);
    scores += gguf_raw(v.scores[i]);
    types += gguf_raw(static_cast<int32_t>(v.types[i]));
  }
  b.set("tokenizer.ggml.tokens", gguf_array(8, v.pieces.size(), tokens));
  b.set("tokenizer.ggml.scores", gguf_array(6, v.pieces.size(), scores));
  b.set("tokenizer.ggml.token_type", gguf_array(5, v.pieces.size(), types));
  b.set("tokenizer.ggml.bos_token_id", gguf_u32(static_cast<uint32_t>(v.bos)));
  b.set("tokenizer.ggml.eos_token_id", gguf_u32(static_cast<uint32_t>(v.eos)));
  b.set("tokenizer.ggml.unknown_token_id", gguf_u32(static_cast<uint32_t>(v.unk)));
  for (auto& [name, shape] : model::tensor_names(c)) {
    const auto& t = w.tensors.at(name);
    gguf_builder::tensor out;
    out.name = name;
    for (auto d = shape.rbegin(); d != shape.rend(); ++d)
      out.ne.push_back(static_cast<uint64_t>(*d));
    out.type = shape.size() == 1 ? 0 : matrix_type;
    for (float x : t.data)
      out.data += out.type == 0 ? gguf_raw(x)
                                : gguf_raw(static_cast<uint16_t>(std::bit_cast<uint32_t>(x) >> 16));
    b.tensors.push_back(std::move(out));
  }
  return b;
}

/// A fresh folder per test.
inline std::string test_dir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::path{testing::TempDir()} / "gguf_test" / info->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void spill(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// The refusal message of `r`, after checking it is a bad_config refusal.
inline std::string refusal(const caf::expected<model::llama_weights>& r) {
  if (r)
    return "(read succeeded)";
  EXPECT_EQ(r.error().category(), error_category);
  EXPECT_EQ(r.error().code(), static_cast<uint8_t>(error_code::bad_config)) << describe(r.error());
  return describe(r.error());
}

/// Reads `bytes` as a file, returning the refusal message.
inline std::string refusal_of(const std::string& bytes) {
  const auto path = test_dir() + "/model.gguf";
  spill(path, bytes);
  return refusal(model::read_gguf(path));
}

} // namespace llmos::test
