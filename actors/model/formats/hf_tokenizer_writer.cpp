// The writing half of hf_tokenizer.hpp: tokenizer.json with merges derived from the scores, and
// tokenizer_config.json naming the special tokens.
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/hf_tokenizer.hpp"
#include "model/formats/sentencepiece_proto.hpp"

namespace llmos::model {

namespace {

using json = nlohmann::ordered_json;
using dataset::piece_type;

caf::error refuse(const std::string& path, const std::string& field, const std::string& what) {
  return make_llmos_error(error_code::bad_config, path + ": field '" + field + "': " + what);
}

struct merge {
  int32_t id; ///< the merged piece
  std::string left, right;
};

/// For each normal piece of 2+ characters that splits into two normal pieces of the vocabulary,
/// the split whose weaker part scores highest (then its stronger part, then the leftmost), in
/// the order of the merged pieces' scores, highest first (ties by id).
std::vector<merge> derive_merges(const dataset::scored_vocab& v) {
  std::unordered_map<std::string, int32_t> normal;
  for (int32_t i = 0; i < v.size(); ++i)
    if (v.types[i] == piece_type::normal)
      normal.emplace(v.pieces[i], i);
  std::vector<merge> out;
  for (int32_t i = 0; i < v.size(); ++i) {
    const auto& p = v.pieces[i];
    if (v.types[i] != piece_type::normal)
      continue;
    std::pair<float, float> best{};
    std::size_t best_at = 0;
    // Split points are character (UTF-8 code point) boundaries: a part is a whole piece.
    for (std::size_t k = 1; k < p.size(); ++k) {
      if ((uint8_t(p[k]) & 0xC0) == 0x80)
        continue;
      auto a = normal.find(p.substr(0, k)), b = normal.find(p.substr(k));
      if (a == normal.end() || b == normal.end())
        continue;
      const float sa = v.scores[a->second], sb = v.scores[b->second];
      const std::pair<float, float> key{std::min(sa, sb), std::max(sa, sb)};
      if (best_at == 0 || key > best)
        best = key, best_at = k;
    }
    if (best_at != 0)
      out.push_back({i, p.substr(0, best_at), p.substr(best_at)});
  }
  std::stable_sort(out.begin(), out.end(),
                   [&](const merge& x, const merge& y) { return v.scores[x.id] > v.scores[y.id]; });
  return out;
}

/// The id tokenizer.json's model.unk_token names: v.unk when it is the unknown piece, else the
/// first unknown piece, else none (-1).
int32_t unknown_id(const dataset::scored_vocab& v) {
  if (v.unk >= 0 && v.unk < v.size() && v.types[v.unk] == piece_type::unknown)
    return v.unk;
  auto it = std::find(v.types.begin(), v.types.end(), piece_type::unknown);
  return it == v.types.end() ? -1 : static_cast<int32_t>(it - v.types.begin());
}

json piece_or_null(const dataset::scored_vocab& v, int32_t id) {
  return id >= 0 && id < v.size() ? json(text_to_sentencepiece(v.pieces[id])) : json(nullptr);
}

/// The control, unknown and user-defined pieces, as tokenizer.json's added_tokens.
json added_tokens(const dataset::scored_vocab& v) {
  json added = json::array();
  for (int32_t i = 0; i < v.size(); ++i) {
    const auto t = v.types[i];
    // A second unknown piece has no place in tokenizer.json: it reads back as control.
    if (t != piece_type::control && t != piece_type::unknown && t != piece_type::user_defined)
      continue;
    added.push_back({{"id", i},
                     {"content", text_to_sentencepiece(v.pieces[i])},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", t == piece_type::user_defined},
                     {"special", t != piece_type::user_defined}});
  }
  return added;
}

/// Spaces become SentencePiece's `space` (after the dummy prefix, when the vocabulary has one).
json normalizers(const dataset::scored_vocab& v, const std::string& space) {
  json out = json::array();
  if (v.add_space_prefix)
    out.push_back({{"type", "Prepend"}, {"prepend", space}});
  out.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}});
  return out;
}

/// The way back: `space` to spaces, byte pieces to bytes, the dummy prefix stripped.
json decoders(const dataset::scored_vocab& v, const std::string& space) {
  json out = json::array({{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                          {{"type", "ByteFallback"}},
                          {{"type", "Fuse"}}});
  if (v.add_space_prefix)
    out.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return out;
}

} // namespace

caf::expected<std::string> hf_tokenizer_json(const dataset::scored_vocab& v,
                                             const std::string& path) {
  if (v.scores.size() != v.pieces.size() || v.types.size() != v.pieces.size())
    return refuse(path, "model.vocab", "pieces, scores and types differ in number");
  const auto space = text_to_sentencepiece(" ");
  json vocab = json::object();
  std::unordered_map<std::string, int32_t> seen;
  for (int32_t i = 0; i < v.size(); ++i) {
    auto [it, fresh] = seen.emplace(v.pieces[i], i);
    if (!fresh)
      return refuse(path, "model.vocab",
                    "piece '" + v.pieces[i] + "' appears twice (ids " + std::to_string(it->second) +
                        " and " + std::to_string(i) +
                        "); tokenizer.json maps each piece to one id");
    vocab[text_to_sentencepiece(v.pieces[i])] = i;
  }
  json merges = json::array();
  for (auto& m : derive_merges(v))
    merges.push_back(text_to_sentencepiece(m.left) + " " + text_to_sentencepiece(m.right));
  const auto unk = unknown_id(v);
  json root = {{"version", "1.0"},
               {"truncation", nullptr},
               {"padding", nullptr},
               {"added_tokens", added_tokens(v)},
               {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers(v, space)}}},
               {"pre_tokenizer", nullptr},
               {"post_processor", nullptr},
               {"decoder", {{"type", "Sequence"}, {"decoders", decoders(v, space)}}},
               {"model",
                {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", piece_or_null(v, unk)},
                 {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr},
                 {"fuse_unk", true},
                 {"byte_fallback", true},
                 {"vocab", vocab},
                 {"merges", merges}}}};
  try {
    return root.dump(2);
  } catch (const json::exception&) {
    return refuse(path, "model.vocab", "a piece is not valid UTF-8");
  }
}

caf::expected<std::string> hf_tokenizer_config_json(const dataset::scored_vocab& v, int64_t seq_len,
                                                    const std::string& chat_template) {
  json root = {{"tokenizer_class", "LlamaTokenizer"},
               {"add_bos_token", true},
               {"add_eos_token", false},
               {"bos_token", piece_or_null(v, v.bos)},
               {"eos_token", piece_or_null(v, v.eos)},
               {"unk_token", piece_or_null(v, v.unk)},
               {"pad_token", piece_or_null(v, v.pad)},
               {"model_max_length", seq_len},
               {"clean_up_tokenization_spaces", false}};
  if (!chat_template.empty())
    root["chat_template"] = chat_template;
  try {
    return root.dump(2);
  } catch (const json::exception&) {
    return make_llmos_error(error_code::bad_config,
                            "tokenizer_config.json: a special piece or the chat template is not "
                            "valid UTF-8");
  }
}

} // namespace llmos::model
