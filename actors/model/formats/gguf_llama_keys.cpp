#include "model/formats/gguf_llama_keys.hpp"

#include "llmos/messages/error.hpp"

namespace llmos::model::gguf {

namespace {

constexpr std::string_view lower_block = "\xE2\x96\x81"; // U+2581, SentencePiece's space

std::string replace_all(const std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

/// Reads a special token id into `out` when the file has one; ids must name a piece.
caf::error special_id(const metadata& md, const std::string& key, int64_t n, int32_t& out) {
  if (!md.has(key))
    return {};
  auto v = md.integer(key);
  if (!v)
    return v.error();
  if (*v < 0 || *v >= n)
    return md.refuse(key, "token id " + std::to_string(*v) + " is outside the vocabulary of " +
                              std::to_string(n) + " pieces");
  out = static_cast<int32_t>(*v);
  return {};
}

/// The array `key` as `get` reads it, refused unless it holds one value per piece of the `n`
/// (`what` names the values in the refusal).
template <class T>
caf::expected<std::vector<T>>
per_piece(const metadata& md,
          caf::expected<std::vector<T>> (metadata::*get)(const std::string&) const,
          const std::string& key, int64_t n, const char* what) {
  auto values = (md.*get)(key);
  if (values && static_cast<int64_t>(values->size()) != n)
    return md.refuse(key, "holds " + std::to_string(values->size()) + " " + what + " for " +
                              std::to_string(n) + " pieces");
  return values;
}

} // namespace

std::string piece_to_gguf(const std::string& piece) {
  return replace_all(piece, " ", lower_block);
}

std::string piece_from_gguf(const std::string& piece) {
  return replace_all(piece, lower_block, " ");
}

caf::expected<llama_config> read_llama_config(const metadata& md, bool tied) {
  auto arch = md.text(key::architecture);
  if (!arch)
    return arch.error();
  if (*arch != "llama")
    return md.refuse(key::architecture,
                     "architecture '" + *arch + "' is not supported; llmos reads 'llama' models");
  llama_config c;
  c.tied = tied;
  const std::pair<const std::string*, int64_t*> required[] = {
      {&key::embedding_length, &c.dim},
      {&key::feed_forward_length, &c.hidden_dim},
      {&key::block_count, &c.n_layers},
      {&key::head_count, &c.n_heads},
      {&key::context_length, &c.seq_len}};
  for (auto [name, field] : required) {
    auto v = md.integer(*name);
    if (!v)
      return v.error();
    *field = *v;
  }
  auto kv = md.integer(key::head_count_kv, c.n_heads);
  auto eps = md.real(key::rms_epsilon);
  auto theta = md.real(key::rope_freq_base, 10000.0);
  if (!kv)
    return kv.error();
  if (!eps)
    return eps.error();
  if (!theta)
    return theta.error();
  c.n_kv_heads = *kv;
  c.norm_eps = *eps;
  c.rope_theta = *theta;
  // llmos rotates every dimension of a head; a file that rotates only some is another model.
  if (md.has(key::rope_dimension_count) && c.n_heads > 0 && c.dim % c.n_heads == 0) {
    auto rot = md.integer(key::rope_dimension_count);
    if (!rot)
      return rot.error();
    if (*rot != c.head_dim())
      return md.refuse(key::rope_dimension_count,
                       "rotates " + std::to_string(*rot) + " dimensions of a head of " +
                           std::to_string(c.head_dim()) + "; llmos rotates whole heads");
  }
  auto tokens = md.integer(key::vocab_size, -1);
  if (!tokens)
    return tokens.error();
  // The vocabulary's length is the authority; llama.vocab_size, when present, must agree.
  auto pieces = md.array_size(key::tokens);
  if (!pieces)
    return pieces.error();
  c.vocab_size = static_cast<int64_t>(*pieces);
  if (*tokens >= 0 && *tokens != c.vocab_size)
    return md.refuse(key::vocab_size, "says " + std::to_string(*tokens) + " but " + key::tokens +
                                          " holds " + std::to_string(c.vocab_size) + " pieces");
  return c;
}

caf::expected<dataset::scored_vocab> read_llama_vocab(const metadata& md) {
  auto model = md.text(key::tokenizer_model);
  if (!model)
    return model.error();
  if (*model != "llama")
    return md.refuse(key::tokenizer_model,
                     "tokenizer '" + *model +
                         "' is not supported; llmos reads SentencePiece ('llama') vocabularies");
  auto pieces = md.texts(key::tokens);
  if (!pieces)
    return pieces.error();
  dataset::scored_vocab v;
  const auto n = static_cast<int64_t>(pieces->size());
  v.pieces.reserve(pieces->size());
  for (auto& p : *pieces)
    v.pieces.push_back(piece_from_gguf(p));
  v.scores.assign(pieces->size(), 0.0f);
  v.types.assign(pieces->size(), dataset::piece_type::normal);
  if (md.has(key::scores)) {
    auto scores = per_piece(md, &metadata::reals, key::scores, n, "scores");
    if (!scores)
      return scores.error();
    v.scores = std::move(*scores);
  }
  if (md.has(key::token_type)) {
    auto types = per_piece(md, &metadata::integers, key::token_type, n, "types");
    if (!types)
      return types.error();
    for (std::size_t i = 0; i < types->size(); ++i) {
      const auto t = (*types)[i];
      if (t < 0 || t > 6)
        return md.refuse(key::token_type, "piece " + std::to_string(i) + " has type " +
                                              std::to_string(t) + ", not one of 0..6");
      // 0 is llama.cpp's "undefined"; it tokenizes as a normal piece.
      v.types[i] = t == 0 ? dataset::piece_type::normal : static_cast<dataset::piece_type>(t);
    }
  }
  for (auto [name, field] : {std::pair{&key::unk_id, &v.unk}, std::pair{&key::bos_id, &v.bos},
                             std::pair{&key::eos_id, &v.eos}, std::pair{&key::pad_id, &v.pad}})
    if (auto err = special_id(md, *name, n, *field))
      return err;
  auto prefix = md.boolean(key::add_space_prefix, true);
  if (!prefix)
    return prefix.error();
  v.add_space_prefix = *prefix;
  return v;
}

} // namespace llmos::model::gguf
