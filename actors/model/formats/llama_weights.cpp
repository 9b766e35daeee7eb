#include "model/formats/llama_weights.hpp"

#include <array>
#include <fstream>
#include <set>

#include <openssl/evp.h>

#include "llmos/messages/error.hpp"

namespace llmos::model {

int64_t f32_tensor::numel() const {
  int64_t n = 1;
  for (auto d : shape)
    n *= d;
  return n;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> tensor_names(const llama_config& c) {
  const auto dim = c.dim, kv = c.kv_dim(), hidden = c.hidden_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"token_embd.weight", {c.vocab_size, dim}});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto b = "blk." + std::to_string(l) + ".";
    out.push_back({b + "attn_norm.weight", {dim}});
    out.push_back({b + "attn_q.weight", {dim, dim}});
    out.push_back({b + "attn_k.weight", {kv, dim}});
    out.push_back({b + "attn_v.weight", {kv, dim}});
    out.push_back({b + "attn_output.weight", {dim, dim}});
    out.push_back({b + "ffn_norm.weight", {dim}});
    out.push_back({b + "ffn_gate.weight", {hidden, dim}});
    out.push_back({b + "ffn_down.weight", {dim, hidden}});
    out.push_back({b + "ffn_up.weight", {hidden, dim}});
  }
  out.push_back({"output_norm.weight", {dim}});
  if (!c.tied)
    out.push_back({"output.weight", {c.vocab_size, dim}});
  return out;
}

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string hex_of(const unsigned char* bytes, unsigned int n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[bytes[i] >> 4];
    out += hex[bytes[i] & 15];
  }
  return out;
}

caf::error refuse(const std::string& where, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": " + what);
}

} // namespace

std::array<std::pair<const char*, int64_t>, 7> sizes_of(const llama_config& c) {
  return {{{"dim", c.dim},
           {"hidden_dim", c.hidden_dim},
           {"n_layers", c.n_layers},
           {"n_heads", c.n_heads},
           {"n_kv_heads", c.n_kv_heads},
           {"vocab_size", c.vocab_size},
           {"seq_len", c.seq_len}}};
}

caf::error validate(const llama_weights& w, const std::string& where) {
  const auto& c = w.config;
  const auto sizes = sizes_of(c);
  for (auto& [name, v] : sizes)
    if (v <= 0 || v > (int64_t{1} << 24))
      return refuse(where,
                    std::string{name} + " is " + std::to_string(v) + ", outside [1, 16777216]");
  if (c.dim % c.n_heads != 0)
    return refuse(where, "n_heads " + std::to_string(c.n_heads) + " does not divide dim " +
                             std::to_string(c.dim));
  if (c.n_heads % c.n_kv_heads != 0)
    return refuse(where, "n_kv_heads " + std::to_string(c.n_kv_heads) +
                             " does not divide n_heads " + std::to_string(c.n_heads));
  if (c.head_dim() % 2 != 0)
    return refuse(where, "head size " + std::to_string(c.head_dim()) +
                             " is odd; rotary embeddings rotate pairs");
  if (!(c.norm_eps > 0.0) || !(c.rope_theta > 0.0))
    return refuse(where, "norm_eps and rope_theta must be positive");
  // Before listing names: a hostile layer count would otherwise have tensor_names build
  // millions of strings for a file that holds a few tensors. A handful missing is named below.
  const auto needed = 2 + 9 * c.n_layers + (c.tied ? 0 : 1);
  if (needed > static_cast<int64_t>(w.tensors.size()) + 64)
    return refuse(where, std::to_string(c.n_layers) + " layers need " + std::to_string(needed) +
                             " tensors, there are " + std::to_string(w.tensors.size()));
  std::set<std::string> expected;
  for (auto& [name, shape] : tensor_names(c)) {
    expected.insert(name);
    auto it = w.tensors.find(name);
    if (it == w.tensors.end())
      return refuse(where, "tensor '" + name + "' is missing");
    if (it->second.shape != shape)
      return refuse(where, "tensor '" + name + "' has shape " + shape_text(it->second.shape) +
                               ", the configuration needs " + shape_text(shape));
    if (static_cast<int64_t>(it->second.data.size()) != it->second.numel())
      return refuse(where, "tensor '" + name + "' holds " + std::to_string(it->second.data.size()) +
                               " values for shape " + shape_text(shape));
  }
  for (auto& [name, t] : w.tensors)
    if (!expected.count(name))
      return refuse(where, "tensor '" + name + "' is not part of a " +
                               (c.tied ? std::string{"tied "} : std::string{}) +
                               "llama model of this configuration");
  if (w.vocab.size() != c.vocab_size)
    return refuse(where, "the vocabulary has " + std::to_string(w.vocab.size()) +
                             " pieces, the model " + std::to_string(c.vocab_size));
  return {};
}

std::string sha256_hex(const std::string& bytes) {
  std::array<unsigned char, 32> digest{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &n, EVP_sha256(), nullptr);
  return hex_of(digest.data(), n);
}

caf::expected<std::string> sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_llmos_error(error_code::io_failed, path + ": cannot be opened for reading");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0)
      EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  std::array<unsigned char, 32> digest{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &n);
  EVP_MD_CTX_free(ctx);
  if (in.bad())
    return make_llmos_error(error_code::io_failed, path + ": read failed");
  return hex_of(digest.data(), n);
}

} // namespace llmos::model
