#include "model/formats/hf_tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/hf_json.hpp"
#include "model/formats/sentencepiece_proto.hpp"

namespace llmos::model {

namespace {

using json = nlohmann::json;
using dataset::piece_type;

std::string string_or(const json& j, const char* key, std::string fallback = {}) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool bool_or(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && std::isxdigit(uint8_t(p[3])) &&
         std::isxdigit(uint8_t(p[4])) && p[5] == '>';
}

std::size_t utf8_length(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (uint8_t(c) & 0xC0) != 0x80; }));
}

/// Whether a normalizer or pre-tokenizer (or a Sequence of them) has an element of `type`
/// for which `pred` holds.
template <class Pred> bool any_step(const json& j, const char* type, const char* list, Pred pred) {
  if (!j.is_object())
    return false;
  auto t = j.find("type");
  if (t != j.end() && *t == "Sequence" && j.contains(list) && j[list].is_array())
    return std::any_of(j[list].begin(), j[list].end(),
                       [&](const json& s) { return any_step(s, type, list, pred); });
  return t != j.end() && *t == type && pred(j);
}

bool prepends_space(const json& root) {
  const auto spm_space = text_to_sentencepiece(" ");
  auto normalizer = root.value("normalizer", json{});
  auto pre = root.value("pre_tokenizer", json{});
  return any_step(normalizer, "Prepend", "normalizers",
                  [&](const json& s) { return string_or(s, "prepend") == spm_space; }) ||
         any_step(pre, "Metaspace", "pretokenizers", [](const json& s) {
           const auto scheme = string_or(s, "prepend_scheme");
           return scheme.empty() ? bool_or(s, "add_prefix_space", true) : scheme != "never";
         });
}

/// Places `piece` at `id` of the id-indexed table, refusing gaps and duplicates.
caf::error place(const std::string& path, const std::string& field, const json& id,
                 std::string piece, std::vector<std::string>& pieces, std::vector<bool>& filled) {
  if (!id.is_number_unsigned() || id.get<uint64_t>() >= pieces.size())
    return refuse_field(path, field,
                        "'" + piece + "' has id " + id.dump() + ", not in [0, " +
                            std::to_string(pieces.size()) + ")");
  const auto i = id.get<std::size_t>();
  if (filled[i] && pieces[i] != piece)
    return refuse_field(path, field,
                        "id " + std::to_string(i) + " is both '" + pieces[i] + "' and '" + piece +
                            "'");
  pieces[i] = std::move(piece);
  filled[i] = true;
  return {};
}

/// Scores from BPE merge ranks (see the header); refuses merges of pieces not in the vocab.
caf::error score_merges(const std::string& path, const json& merges, dataset::scored_vocab& v) {
  std::unordered_map<std::string, int32_t> ids;
  for (int32_t i = 0; i < v.size(); ++i)
    ids.emplace(v.pieces[i], i);
  // llama2.c's floor: a piece scored at or below it is never merged into, as in BPE, where no
  // merge makes it.
  constexpr float never = -1e10f;
  for (int32_t i = 0; i < v.size(); ++i)
    v.scores[i] = v.types[i] == piece_type::normal && utf8_length(v.pieces[i]) > 1 ? never : 0;
  std::vector<bool> scored(v.pieces.size(), false);
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string a, b;
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        return refuse_field(path, "model.merges",
                            "entry " + std::to_string(rank) + " ('" + s +
                                "') is not two pieces split by one space");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    } else {
      return refuse_field(path, "model.merges", "entry " + std::to_string(rank) + " is not a pair");
    }
    a = sentencepiece_to_text(a), b = sentencepiece_to_text(b);
    for (const auto& p : {a, b, a + b})
      if (!ids.count(p))
        return refuse_field(path, "model.merges",
                            "entry " + std::to_string(rank) + " ('" + a + "' + '" + b +
                                "') needs '" + p + "', not in the vocab");
    const auto id = ids[a + b];
    if (!scored[id] && v.types[id] == piece_type::normal)
      v.scores[id] = -static_cast<float>(rank + 1);
    scored[id] = true;
  }
  return {};
}

/// Pieces read so far, by id: tokenizer.json lists the vocabulary and the added tokens apart.
struct piece_table {
  explicit piece_table(std::size_t n)
      : pieces(n), filled(n, false), scores(n, 0.0f), types(n, piece_type::normal) {}
  std::vector<std::string> pieces;
  std::vector<bool> filled;
  std::vector<float> scores; ///< Unigram's; BPE's come from the merges
  std::vector<piece_type> types;
};

/// model.vocab: BPE's {piece: id} or Unigram's [[piece, score], ...].
caf::error read_model_vocab(const std::string& path, const std::string& type, const json& vocab,
                            piece_table& table) {
  if (type == "BPE") {
    for (auto& [piece, id] : vocab.items())
      if (auto e = place(path, "model.vocab", id, sentencepiece_to_text(piece), table.pieces,
                         table.filled))
        return e;
    return caf::none;
  }
  for (std::size_t i = 0; i < vocab.size(); ++i) {
    const auto& entry = vocab[i];
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number())
      return refuse_field(path, "model.vocab",
                          "entry " + std::to_string(i) + " is not [piece, score]");
    if (auto e =
            place(path, "model.vocab", json(i), sentencepiece_to_text(entry[0].get<std::string>()),
                  table.pieces, table.filled))
      return e;
    const auto score = entry[1].get<double>();
    if (!(std::abs(score) <= std::numeric_limits<float>::max()))
      return refuse_field(path, "model.vocab",
                          "entry " + std::to_string(i) + " has a score outside float's range");
    table.scores[i] = static_cast<float>(score);
  }
  return caf::none;
}

/// added_tokens: the unknown piece, control (special) and user-defined pieces.
caf::error read_added_tokens(const std::string& path, const json& added, const std::string& unk,
                             piece_table& table) {
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto& t = added[i];
    const auto field = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id"))
      return refuse_field(path, field, "needs a string 'content' and an 'id'");
    auto content = sentencepiece_to_text(t["content"].get<std::string>());
    const bool special = bool_or(t, "special", false);
    if (auto e = place(path, field, t["id"], content, table.pieces, table.filled))
      return e;
    table.types[t["id"].get<std::size_t>()] = !unk.empty() && content == unk ? piece_type::unknown
                                              : special                      ? piece_type::control
                                                        : piece_type::user_defined;
  }
  return caf::none;
}

/// The vocabulary of the ids from 0 up: every one must be there, without gaps.
caf::expected<dataset::scored_vocab> to_vocab(const std::string& path, const piece_table& table,
                                              const std::string& unk, bool byte_fallback) {
  const auto& filled = table.filled;
  const auto n =
      static_cast<std::size_t>(std::find(filled.begin(), filled.end(), false) - filled.begin());
  if (std::find(filled.begin() + static_cast<std::ptrdiff_t>(n), filled.end(), true) !=
      filled.end())
    return refuse_field(path, "model.vocab",
                        "id " + std::to_string(n) +
                            " is missing: ids must run from 0 without gaps");
  if (n == 0)
    return refuse_field(path, "model.vocab", "empty");
  dataset::scored_vocab v;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& piece = table.pieces[i];
    v.pieces.push_back(piece);
    auto t = table.types[i];
    if (t == piece_type::normal && !unk.empty() && piece == unk)
      t = piece_type::unknown;
    else if (t == piece_type::normal && byte_fallback && is_byte_piece(piece))
      t = piece_type::byte;
    v.types.push_back(t);
    v.scores.push_back(table.scores[i]);
  }
  return v;
}

/// unk, bos and eos by their pieces (unk: the named one, else the first unknown, else "<unk>").
void set_special_ids(dataset::scored_vocab& v, const std::string& unk) {
  auto find = [&](const std::string& p, int32_t fallback) {
    auto it = std::find(v.pieces.begin(), v.pieces.end(), p);
    return it == v.pieces.end() ? fallback : static_cast<int32_t>(it - v.pieces.begin());
  };
  auto first_unknown = std::find(v.types.begin(), v.types.end(), piece_type::unknown);
  v.unk = find(unk, first_unknown != v.types.end()
                        ? static_cast<int32_t>(first_unknown - v.types.begin())
                        : find("<unk>", 0));
  v.bos = find("<s>", v.bos);
  v.eos = find("</s>", v.eos);
  v.pad = -1;
}

caf::expected<dataset::scored_vocab> read_hf_tokenizer_unchecked(const std::string& path) {
  auto root = load_json_object(path);
  if (!root)
    return root.error();
  auto model = root->value("model", json{});
  if (!model.is_object() || !model.contains("type") || !model["type"].is_string())
    return refuse_field(path, "model", "missing, or without a string 'type'");
  const auto type = model["type"].get<std::string>();
  if (type != "BPE" && type != "Unigram")
    return refuse_field(path, "model.type", "'" + type + "' is not read (BPE or Unigram are)");
  if (any_step(root->value("pre_tokenizer", json{}), "ByteLevel", "pretokenizers",
               [](const json&) { return true; }))
    return refuse_field(path, "pre_tokenizer",
                        "byte-level BPE (GPT-2 or Llama 3 style) is not read; "
                        "only SentencePiece-style vocabularies ('\xE2\x96\x81' "
                        "for the space) are");
  auto vocab = model.value("vocab", json{});
  auto added = root->value("added_tokens", json::array());
  if (!(type == "BPE" ? vocab.is_object() : vocab.is_array()))
    return refuse_field(path, "model.vocab", type == "BPE" ? "not an object" : "not an array");
  if (!added.is_array())
    return refuse_field(path, "added_tokens", "not an array");
  piece_table table{vocab.size() + added.size()};
  if (auto e = read_model_vocab(path, type, vocab, table))
    return e;
  std::string unk;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    unk = sentencepiece_to_text(model["unk_token"].get<std::string>());
  if (model.contains("unk_id") && model["unk_id"].is_number_unsigned() &&
      model["unk_id"].get<uint64_t>() < vocab.size())
    unk = table.pieces[model["unk_id"].get<std::size_t>()];
  if (auto e = read_added_tokens(path, added, unk, table))
    return e;
  auto v = to_vocab(path, table, unk, bool_or(model, "byte_fallback", false));
  if (!v)
    return v;
  if (type == "BPE") {
    auto merges = model.value("merges", json::array());
    if (!merges.is_array())
      return refuse_field(path, "model.merges", "not an array");
    if (auto e = score_merges(path, merges, *v))
      return e;
  }
  set_special_ids(*v, unk);
  v->add_space_prefix = prepends_space(*root);
  return v;
}

} // namespace

caf::expected<dataset::scored_vocab> read_hf_tokenizer(const std::string& path) {
  // Every access in the reader checks its types first; the catch is a net under a shape
  // missed, so that a hostile file is refused rather than crashing the process.
  try {
    return read_hf_tokenizer_unchecked(path);
  } catch (const json::exception& e) {
    return make_llmos_error(error_code::bad_config,
                            path + ": unexpected JSON structure (" + e.what() + ")");
  }
}

caf::error apply_hf_tokenizer_config(const std::string& path, dataset::scored_vocab& v) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return {};
  auto root = load_json_object(path);
  if (!root)
    return root.error();
  for (auto [key, id] : {std::pair{"bos_token", &v.bos}, std::pair{"eos_token", &v.eos},
                         std::pair{"unk_token", &v.unk}, std::pair{"pad_token", &v.pad}}) {
    auto t = root->value(key, json{});
    if (t.is_object())
      t = t.value("content", json{});
    if (t.is_null())
      continue;
    if (!t.is_string())
      return refuse_field(path, key, "not a string or {\"content\": string}");
    const auto piece = sentencepiece_to_text(t.get<std::string>());
    auto it = std::find(v.pieces.begin(), v.pieces.end(), piece);
    if (it == v.pieces.end())
      return refuse_field(path, key, "'" + piece + "' is not in the vocabulary");
    *id = static_cast<int32_t>(it - v.pieces.begin());
  }
  return {};
}

caf::expected<std::string> read_hf_chat_template(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return std::string{};
  auto root = load_json_object(path);
  if (!root)
    return root.error();
  const auto t = root->value("chat_template", json{});
  if (t.is_null())
    return std::string{};
  if (t.is_string())
    return t.get<std::string>();
  if (t.is_array())
    for (const auto& named : t)
      if (named.is_object() && named.value("name", json{}) == "default" &&
          named.value("template", json{}).is_string())
        return named["template"].get<std::string>();
  return refuse_field(path, "chat_template",
                      "not a string or a list of {\"name\", \"template\"} with one named default");
}

} // namespace llmos::model
