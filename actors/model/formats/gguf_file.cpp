// write_gguf and parse_gguf_tensor_type; the reader is gguf_reader.cpp. The writer lays the file
// out as llama.cpp's gguf writer does: header, metadata, tensor infos, padding to the alignment,
// then each tensor's data padded to the alignment, tensors in tensor_names() order.
#include "model/formats/gguf_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "llmos/messages/error.hpp"
#include "model/formats/gguf_llama_keys.hpp"
#include "model/formats/half_float.hpp"

namespace llmos::model {

namespace {

using gguf::value_type;

/// Little-endian bytes of GGUF values, appended to a string.
struct byte_sink {
  std::string out;
  uint64_t n_kv = 0;

  template <class T> void put(T v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void put_string(std::string_view s) {
    put(static_cast<uint64_t>(s.size()));
    out.append(s);
  }
  void key(const std::string& k, value_type t) {
    ++n_kv;
    put_string(k);
    put(static_cast<uint32_t>(t));
  }
  void kv_u32(const std::string& k, int64_t v) {
    key(k, value_type::u32);
    put(static_cast<uint32_t>(v));
  }
  void kv_f32(const std::string& k, double v) {
    key(k, value_type::f32);
    put(static_cast<float>(v));
  }
  void kv_string(const std::string& k, std::string_view v) {
    key(k, value_type::string);
    put_string(v);
  }
  void array_head(const std::string& k, value_type elem, std::size_t n) {
    key(k, value_type::array);
    put(static_cast<uint32_t>(elem));
    put(static_cast<uint64_t>(n));
  }
  void pad_to(uint64_t align) { out.resize((out.size() + align - 1) / align * align, '\0'); }
};

/// The ggml type a tensor is written in: norms stay F32, matrices take the requested type, and
/// Q8_0 falls back to F16 where rows are not whole blocks.
uint32_t storage_type(const f32_tensor& t, gguf_tensor_type type) {
  if (t.shape.size() < 2 || type == gguf_tensor_type::f32)
    return gguf::type_f32;
  if (type == gguf_tensor_type::bf16)
    return gguf::type_bf16;
  if (type == gguf_tensor_type::q8_0 && t.shape.back() % gguf::q8_0_block == 0)
    return gguf::type_q8_0;
  return gguf::type_f16;
}

uint64_t storage_bytes(const f32_tensor& t, uint32_t type) {
  const auto n = static_cast<uint64_t>(t.numel());
  switch (type) {
  case gguf::type_f32:
    return n * 4;
  case gguf::type_q8_0:
    return n / gguf::q8_0_block * gguf::q8_0_block_bytes;
  default:
    return n * 2;
  }
}

/// `t` encoded as ggml `type`; Q8_0 as ggml's reference quantiser (scale max|x|/127, round
/// half away from zero).
std::string encode(const f32_tensor& t, uint32_t type) {
  byte_sink s;
  s.out.reserve(storage_bytes(t, type));
  if (type == gguf::type_f32) {
    s.out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  } else if (type == gguf::type_f16 || type == gguf::type_bf16) {
    for (float x : t.data)
      s.put(type == gguf::type_f16 ? f32_to_f16(x) : f32_to_bf16(x));
  } else {
    for (std::size_t b = 0; b + gguf::q8_0_block <= t.data.size(); b += gguf::q8_0_block) {
      const float* x = t.data.data() + b;
      float amax = 0.0f;
      for (uint64_t j = 0; j < gguf::q8_0_block; ++j)
        amax = std::max(amax, std::fabs(x[j]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      s.put(f32_to_f16(d));
      for (uint64_t j = 0; j < gguf::q8_0_block; ++j) {
        // |x * id| <= 127 for finite x; a NaN or infinity must not reach the int8 conversion.
        const float q = std::round(x[j] * id);
        s.put(static_cast<int8_t>(q >= -127.0f && q <= 127.0f ? q : 0.0f));
      }
    }
  }
  return std::move(s.out);
}

uint32_t file_type(gguf_tensor_type type) {
  switch (type) {
  case gguf_tensor_type::f32:
    return 0; // LLAMA_FTYPE_ALL_F32
  case gguf_tensor_type::f16:
    return 1; // LLAMA_FTYPE_MOSTLY_F16
  case gguf_tensor_type::q8_0:
    return 7; // LLAMA_FTYPE_MOSTLY_Q8_0
  case gguf_tensor_type::bf16:
    return 32; // LLAMA_FTYPE_MOSTLY_BF16
  }
  return 0;
}

void put_metadata(byte_sink& s, const llama_weights& w, gguf_tensor_type type,
                  const std::string& name) {
  namespace key = gguf::key;
  const auto& c = w.config;
  const auto& v = w.vocab;
  s.kv_string(key::architecture, "llama");
  s.kv_string(key::name, name);
  s.kv_u32(key::alignment, gguf::default_alignment);
  s.kv_u32(key::file_type, file_type(type));
  s.kv_u32(key::context_length, c.seq_len);
  s.kv_u32(key::embedding_length, c.dim);
  s.kv_u32(key::block_count, c.n_layers);
  s.kv_u32(key::feed_forward_length, c.hidden_dim);
  s.kv_u32(key::rope_dimension_count, c.head_dim());
  s.kv_u32(key::head_count, c.n_heads);
  s.kv_u32(key::head_count_kv, c.n_kv_heads);
  s.kv_f32(key::rms_epsilon, c.norm_eps);
  s.kv_f32(key::rope_freq_base, c.rope_theta);
  s.kv_u32(key::vocab_size, c.vocab_size);
  s.kv_string(key::tokenizer_model, "llama");
  s.array_head(key::tokens, value_type::string, v.pieces.size());
  for (auto& p : v.pieces)
    s.put_string(gguf::piece_to_gguf(p));
  s.array_head(key::scores, value_type::f32, v.scores.size());
  for (float x : v.scores)
    s.put(x);
  s.array_head(key::token_type, value_type::i32, v.types.size());
  for (auto t : v.types)
    s.put(static_cast<int32_t>(t));
  s.kv_u32(key::bos_id, v.bos);
  s.kv_u32(key::eos_id, v.eos);
  s.kv_u32(key::unk_id, v.unk);
  if (v.pad >= 0)
    s.kv_u32(key::pad_id, v.pad);
  s.key(key::add_space_prefix, value_type::boolean);
  s.put(static_cast<uint8_t>(v.add_space_prefix ? 1 : 0));
  if (!w.chat_template.empty())
    s.kv_string(key::chat_template, w.chat_template);
}

caf::error check_vocab(const dataset::scored_vocab& v, const std::string& where) {
  const auto n = v.pieces.size();
  if (v.scores.size() != n || v.types.size() != n)
    return make_llmos_error(error_code::bad_config,
                            where + ": the vocabulary has " + std::to_string(n) + " pieces, " +
                                std::to_string(v.scores.size()) + " scores and " +
                                std::to_string(v.types.size()) + " types");
  for (auto id : {v.unk, v.bos, v.eos})
    if (id < 0 || static_cast<std::size_t>(id) >= n)
      return make_llmos_error(error_code::bad_config,
                              where + ": special token id " + std::to_string(id) +
                                  " is outside the vocabulary of " + std::to_string(n));
  if (v.pad >= 0 && static_cast<std::size_t>(v.pad) >= n)
    return make_llmos_error(error_code::bad_config,
                            where + ": padding id " + std::to_string(v.pad) +
                                " is outside the vocabulary of " + std::to_string(n));
  return {};
}

} // namespace

caf::error write_gguf(const llama_weights& w, const std::string& path, gguf_tensor_type type,
                      const std::string& name) {
  if (auto err = validate(w, path))
    return err;
  if (auto err = check_vocab(w.vocab, path))
    return err;
  byte_sink meta;
  put_metadata(meta, w, type, name);
  const auto names = tensor_names(w.config);
  byte_sink infos;
  std::vector<uint32_t> types;
  uint64_t offset = 0;
  for (auto& [tensor, shape] : names) {
    const auto& t = w.tensors.at(tensor); // validate() proved it is there
    types.push_back(storage_type(t, type));
    infos.put_string(tensor);
    infos.put(static_cast<uint32_t>(shape.size()));
    for (auto d = shape.rbegin(); d != shape.rend(); ++d) // ggml: innermost first
      infos.put(static_cast<uint64_t>(*d));
    infos.put(types.back());
    infos.put(offset);
    const auto bytes = storage_bytes(t, types.back());
    offset +=
        (bytes + gguf::default_alignment - 1) / gguf::default_alignment * gguf::default_alignment;
  }
  byte_sink head;
  head.out.append(gguf::magic, 4);
  head.put(gguf::version);
  head.put(static_cast<uint64_t>(names.size()));
  head.put(meta.n_kv);
  head.out += meta.out;
  head.out += infos.out;
  head.pad_to(gguf::default_alignment);

  // Atomic: a reader sees the old file or the whole new one, never a half-written model.
  const auto tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return make_llmos_error(error_code::io_failed,
                            tmp + ": cannot be created: " + std::strerror(errno));
  bool ok = std::fwrite(head.out.data(), 1, head.out.size(), f) == head.out.size();
  for (std::size_t i = 0; ok && i < names.size(); ++i) {
    byte_sink data;
    data.out = encode(w.tensors.at(names[i].first), types[i]);
    data.pad_to(gguf::default_alignment);
    ok = std::fwrite(data.out.data(), 1, data.out.size(), f) == data.out.size();
  }
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(::fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return make_llmos_error(error_code::io_failed, path + ": cannot be written: " + why);
  }
  return {};
}

caf::expected<gguf_tensor_type> parse_gguf_tensor_type(const std::string& text) {
  if (text == "f32")
    return gguf_tensor_type::f32;
  if (text == "f16")
    return gguf_tensor_type::f16;
  if (text == "bf16")
    return gguf_tensor_type::bf16;
  if (text == "q8_0")
    return gguf_tensor_type::q8_0;
  return make_llmos_error(error_code::bad_params,
                          "GGUF tensor type '" + text + "' is not one of f32, f16, bf16, q8_0");
}

} // namespace llmos::model
