#include "model/formats/llama2c_file.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"
#include "model/formats/file_bytes.hpp"
#include "model/formats/llama2c_bytes.hpp"

namespace llmos::model {
namespace {

using namespace llama2c_detail;

static_assert(std::endian::native == std::endian::little,
              "llama2.c files are little-endian and are read by copying floats as they are");

/// One float32 array of the checkpoint, in file order: llama2.c's name, ours (blk.N. is
/// prepended for per-layer arrays, "" for the RoPE tables nobody reads) and its size.
struct section {
  const char* llama2c_name;
  std::string name;
  bool per_layer;
  int64_t count; ///< floats per layer, or in all
};

std::vector<section> layout(const llama_config& c) {
  const auto dim = c.dim, kv = c.kv_dim(), hidden = c.hidden_dim;
  std::vector<section> s = {
      {"token_embedding_table", "token_embd.weight", false, c.vocab_size * dim},
      {"rms_att_weight", "attn_norm.weight", true, dim},
      {"wq", "attn_q.weight", true, dim * dim},
      {"wk", "attn_k.weight", true, kv * dim},
      {"wv", "attn_v.weight", true, kv * dim},
      {"wo", "attn_output.weight", true, dim * dim},
      {"rms_ffn_weight", "ffn_norm.weight", true, dim},
      {"w1", "ffn_gate.weight", true, hidden * dim},
      {"w2", "ffn_down.weight", true, dim * hidden},
      {"w3", "ffn_up.weight", true, hidden * dim},
      {"rms_final_weight", "output_norm.weight", false, dim},
      {"freq_cis_real", "", false, c.seq_len * (c.head_dim() / 2)},
      {"freq_cis_imag", "", false, c.seq_len * (c.head_dim() / 2)},
  };
  if (!c.tied)
    s.push_back({"wcls", "output.weight", false, c.vocab_size * dim});
  return s;
}

std::string layer_name(const section& s, int64_t l) {
  return s.per_layer ? "blk." + std::to_string(l) + "." + s.name : s.name;
}

/// The header's sizes, refused before any size arithmetic: positive, at most 2^24 (so every
/// product below fits in int64), heads dividing dim and each other, an even head size.
caf::error check_header(const llama_config& c, int32_t raw_vocab, const std::string& where) {
  const auto sizes = sizes_of(c);
  for (auto& [name, v] : sizes)
    if (v <= 0 || v > (int64_t{1} << 24))
      return refuse(where, "header field " + std::string{name} + " is " +
                               std::to_string(name == std::string{"vocab_size"} ? raw_vocab : v) +
                               ", outside [1, 16777216] (not a llama2.c legacy checkpoint?)");
  const auto fields = "header fields dim " + std::to_string(c.dim) + ", n_heads " +
                      std::to_string(c.n_heads) + ", n_kv_heads " + std::to_string(c.n_kv_heads);
  if (c.dim % c.n_heads != 0)
    return refuse(where, fields + ": n_heads must divide dim");
  if (c.n_heads % c.n_kv_heads != 0)
    return refuse(where, fields + ": n_kv_heads must divide n_heads");
  if (c.head_dim() % 2 != 0)
    return refuse(where, fields + ": the head size must be even (RoPE rotates pairs)");
  return {};
}

/// Writes what `fill` streams into a temp file beside `path`, then renames it over `path`, so
/// readers never see half a file.
template <class Fill> caf::error write_atomically(const std::string& path, Fill fill) {
  auto done = replace_file_by(path, [&](const std::string& tmp) -> caf::error {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return make_llmos_error(error_code::io_failed, tmp + ": cannot be opened for writing");
    fill(out);
    out.flush();
    if (!out)
      return make_llmos_error(error_code::io_failed, tmp + ": write failed (disk full?)");
    return {};
  });
  return done ? caf::error{} : done.error();
}

void write_floats(std::ofstream& out, const std::vector<float>& v) {
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(float)));
}

/// llama2.c's legacy RoPE tables (export.py's freqs_cos and freqs_sin): angle pos × freq_i with
/// freq_i = 1 / 10000^(2i / head_size), all in float32 as PyTorch computes them (the
/// frequencies and angles come out bit-identical). cos/sin are taken in double and rounded;
/// PyTorch's vectorised float32 ones differ from that by one ulp in ~5% of stories260K's
/// entries, which nobody notices: run.c skips the tables.
std::pair<std::vector<float>, std::vector<float>> rope_tables(const llama_config& c) {
  const auto half = c.head_dim() / 2;
  std::vector<float> freq(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    freq[i] =
        1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(c.head_dim()));
  std::vector<float> cos_t, sin_t;
  cos_t.reserve(static_cast<std::size_t>(c.seq_len * half));
  sin_t.reserve(static_cast<std::size_t>(c.seq_len * half));
  for (int64_t p = 0; p < c.seq_len; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(p) * freq[i];
      cos_t.push_back(static_cast<float>(std::cos(static_cast<double>(angle))));
      sin_t.push_back(static_cast<float>(std::sin(static_cast<double>(angle))));
    }
  return {std::move(cos_t), std::move(sin_t)};
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

bool close_to(double value, double expected) {
  return std::abs(value - expected) <= expected * 1e-6;
}

/// What run.c hard-codes and this format cannot say otherwise; a model differing in them would
/// load there and silently compute something else.
caf::error check_llama2c_assumptions(const llama_weights& w, const std::string& where) {
  const auto& v = w.vocab;
  if (v.unk != 0 || v.bos != 1 || v.eos != 2)
    return refuse(where, "llama2.c needs unk, bos, eos at ids 0, 1, 2; this vocabulary has " +
                             std::to_string(v.unk) + ", " + std::to_string(v.bos) + ", " +
                             std::to_string(v.eos));
  if (v.scores.size() != v.pieces.size() || v.types.size() != v.pieces.size())
    return refuse(where, "the vocabulary has " + std::to_string(v.pieces.size()) + " pieces but " +
                             std::to_string(v.scores.size()) + " scores and " +
                             std::to_string(v.types.size()) + " types");
  for (int32_t id = 0; id < v.size(); ++id)
    if (v.types[id] == dataset::piece_type::byte && dataset::byte_of_piece(v.pieces[id]) + 3 != id)
      return refuse(where, "byte piece '" + v.pieces[id] + "' is id " + std::to_string(id) +
                               "; llama2.c's byte fallback needs byte b at id b + 3");
  if (!v.add_space_prefix)
    return refuse(where, "the vocabulary adds no space prefix; llama2.c's encoder always does");
  if (!close_to(w.config.norm_eps, 1e-5) || !close_to(w.config.rope_theta, 10000.0))
    return refuse(where, "llama2.c hard-codes norm_eps 1e-5 and rope_theta 10000; this model "
                         "has " +
                             number_text(w.config.norm_eps) + " and " +
                             number_text(w.config.rope_theta));
  return {};
}

/// Whether the file holds exactly what the header's sizes need: else which array it stops in,
/// or how many bytes trail, so a cut download is told apart from a wrong header.
caf::error check_size(const std::vector<section>& sections, const llama_config& c,
                      uint64_t file_size, const std::string& checkpoint) {
  // Sizes are each below 2^24, one array below 2^50 bytes, but n_layers of them can overflow.
  int64_t needed = 28;
  for (auto& s : sections) {
    int64_t bytes = 0;
    if (__builtin_mul_overflow(s.per_layer ? c.n_layers : 1, s.count * 4, &bytes) ||
        __builtin_add_overflow(needed, bytes, &needed))
      return refuse(checkpoint, "the header's sizes overflow 64-bit byte counts at " +
                                    std::string{s.llama2c_name} + " (not a llama2.c checkpoint?)");
  }
  if (static_cast<uint64_t>(needed) != file_size) {
    if (file_size > static_cast<uint64_t>(needed))
      return refuse(checkpoint, std::to_string(file_size - needed) +
                                    " trailing bytes after the last tensor (the header's sizes "
                                    "need " +
                                    std::to_string(needed) + " bytes)");
    int64_t offset = 28;
    for (auto& s : sections)
      for (int64_t l = 0; l < (s.per_layer ? c.n_layers : 1); ++l) {
        offset += s.count * 4;
        if (offset > static_cast<int64_t>(file_size))
          return refuse(checkpoint, "truncated in " + std::string{s.llama2c_name} +
                                        (s.name.empty() ? "" : " (" + layer_name(s, l) + ")") +
                                        ": the file has " + std::to_string(file_size) +
                                        " bytes, the header's sizes need " +
                                        std::to_string(needed));
      }
  }
  return caf::none;
}

/// The arrays after the header, in llama2.c's order, into `tensors` (the RoPE tables skipped).
caf::error read_tensors(std::ifstream& in, const std::vector<section>& sections,
                        const llama_config& c, const std::string& checkpoint,
                        std::map<std::string, f32_tensor>& tensors) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& [name, shape] : tensor_names(c))
    shapes.emplace(name, shape);
  for (auto& s : sections)
    for (int64_t l = 0; l < (s.per_layer ? c.n_layers : 1); ++l) {
      if (s.name.empty()) {
        in.seekg(s.count * 4, std::ios::cur);
        continue;
      }
      f32_tensor t;
      const auto name = layer_name(s, l);
      t.shape = shapes.at(name);
      t.data.resize(static_cast<std::size_t>(s.count));
      if (!in.read(reinterpret_cast<char*>(t.data.data()), s.count * 4))
        return make_llmos_error(error_code::io_failed,
                                checkpoint + ": read failed in " + s.llama2c_name);
      tensors.emplace(name, std::move(t));
    }
  return caf::none;
}

} // namespace

caf::expected<llama_weights> read_llama2c(const std::string& checkpoint,
                                          const std::string& tokenizer) {
  std::ifstream in(checkpoint, std::ios::binary);
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(checkpoint, ec);
  if (!in || ec)
    return make_llmos_error(error_code::io_failed, checkpoint + ": cannot be opened for reading");
  std::array<char, 28> header{};
  if (file_size < header.size() || !in.read(header.data(), header.size()))
    return refuse(checkpoint, "truncated header: " + std::to_string(file_size) +
                                  " bytes, the 7 int32 header fields need 28");
  llama_weights w;
  auto& c = w.config;
  const int32_t raw_vocab = get_i32(&header[20]);
  c.dim = get_i32(&header[0]);
  c.hidden_dim = get_i32(&header[4]);
  c.n_layers = get_i32(&header[8]);
  c.n_heads = get_i32(&header[12]);
  c.n_kv_heads = get_i32(&header[16]);
  c.vocab_size = std::abs(int64_t{raw_vocab});
  c.seq_len = get_i32(&header[24]);
  // llama2.c's legacy flag: a negative vocab_size means the classifier follows the RoPE tables.
  c.tied = raw_vocab > 0;
  if (auto err = check_header(c, raw_vocab, checkpoint))
    return err;

  const auto sections = layout(c);
  if (auto err = check_size(sections, c, file_size, checkpoint))
    return err;
  if (auto err = read_tensors(in, sections, c, checkpoint, w.tensors))
    return err;

  auto tok_bytes = read_file_bytes(tokenizer);
  if (!tok_bytes)
    return std::move(tok_bytes.error());
  auto vocab = parse_llama2c_tokenizer(*tok_bytes, c.vocab_size, tokenizer);
  if (!vocab)
    return std::move(vocab.error());
  w.vocab = std::move(*vocab);
  auto sha = sha256_file(checkpoint);
  if (!sha)
    return std::move(sha.error());
  w.source = checkpoint;
  w.source_sha256 = std::move(*sha);
  w.format = "llama2c";
  if (auto err = validate(w, checkpoint))
    return err;
  return w;
}

caf::error write_llama2c(const llama_weights& w, const std::string& checkpoint,
                         const std::string& tokenizer) {
  if (auto err = validate(w, checkpoint))
    return err;
  if (auto err = check_llama2c_assumptions(w, checkpoint))
    return err;
  const auto& c = w.config;
  const auto sections = layout(c);
  const auto rope = rope_tables(c);
  auto err = write_atomically(checkpoint, [&](std::ofstream& out) {
    std::string header;
    for (int64_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                      c.tied ? c.vocab_size : -c.vocab_size, c.seq_len})
      put_i32(header, static_cast<int32_t>(v));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (auto& s : sections) {
      if (s.name.empty()) {
        write_floats(out,
                     s.llama2c_name == std::string{"freq_cis_real"} ? rope.first : rope.second);
        continue;
      }
      for (int64_t l = 0; l < (s.per_layer ? c.n_layers : 1); ++l)
        write_floats(out, w.tensors.at(layer_name(s, l)).data);
    }
  });
  if (err)
    return err;
  const auto tok = llama2c_tokenizer_bytes(w.vocab);
  return write_atomically(tokenizer, [&](std::ofstream& out) {
    out.write(tok.data(), static_cast<std::streamsize>(tok.size()));
  });
}

} // namespace llmos::model
