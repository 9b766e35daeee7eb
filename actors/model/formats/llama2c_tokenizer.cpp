// llama2.c's tokenizer.bin: max_token_length, then per piece its score and length-prefixed bytes;
// the piece types are not stored and follow from the positions llama2.c's export gave them.
#include <algorithm>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "model/formats/llama2c_bytes.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos::model {

using namespace llama2c_detail;

caf::expected<dataset::scored_vocab>
parse_llama2c_tokenizer(const std::string& bytes, int64_t vocab_size, const std::string& where) {
  if (vocab_size < 3 || vocab_size > INT32_MAX)
    return refuse(where, "a vocabulary of " + std::to_string(vocab_size) +
                             " pieces; llama2.c's needs unk, bos and eos at least");
  if (bytes.size() < 4)
    return refuse(where,
                  "truncated: no max_token_length (" + std::to_string(bytes.size()) + " bytes)");
  const int32_t max_len = get_i32(bytes.data());
  if (max_len < 0)
    return refuse(where, "max_token_length is " + std::to_string(max_len));
  dataset::scored_vocab v;
  std::size_t pos = 4;
  for (int64_t id = 0; id < vocab_size; ++id) {
    const auto piece = "piece " + std::to_string(id);
    if (bytes.size() - pos < 8)
      return refuse(where, "truncated in " + piece + "'s score and length (the file holds " +
                               std::to_string(id) + " of the model's " +
                               std::to_string(vocab_size) + " pieces)");
    float score;
    std::memcpy(&score, bytes.data() + pos, 4);
    const int32_t len = get_i32(bytes.data() + pos + 4);
    pos += 8;
    if (len < 0 || len > max_len)
      return refuse(where, piece + " has length " + std::to_string(len) +
                               ", outside [0, max_token_length " + std::to_string(max_len) + "]");
    if (bytes.size() - pos < static_cast<std::size_t>(len))
      return refuse(where, "truncated in " + piece + "'s " + std::to_string(len) + " bytes");
    std::string text = bytes.substr(pos, static_cast<std::size_t>(len));
    pos += static_cast<std::size_t>(len);
    // Types by position, as llama2.c's export laid them out from SentencePiece's model.
    auto type = dataset::piece_type::normal;
    if (id == 0)
      type = dataset::piece_type::unknown, text = "<unk>";
    else if (id == 1)
      type = dataset::piece_type::control, text = "<s>";
    else if (id == 2)
      type = dataset::piece_type::control, text = "</s>";
    else if (dataset::byte_of_piece(text) >= 0)
      type = dataset::piece_type::byte;
    v.pieces.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (pos != bytes.size())
    return refuse(where, std::to_string(bytes.size() - pos) + " trailing bytes after piece " +
                             std::to_string(vocab_size - 1) +
                             " (a tokenizer for a larger vocabulary than the model's " +
                             std::to_string(vocab_size) + "?)");
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.pad = -1;
  v.add_space_prefix = true;
  return v;
}

std::string llama2c_tokenizer_bytes(const dataset::scored_vocab& v) {
  // llama2.c's export wrote BOS and EOS with newlines around them (run.c prints them so).
  auto stored = [&](int32_t id) -> std::string_view {
    if (id == v.bos)
      return "\n<s>\n";
    if (id == v.eos)
      return "\n</s>\n";
    return v.pieces[static_cast<std::size_t>(id)];
  };
  std::size_t max_len = 0;
  for (int32_t id = 0; id < v.size(); ++id)
    max_len = std::max(max_len, stored(id).size());
  std::string out;
  put_i32(out, static_cast<int32_t>(max_len));
  for (int32_t id = 0; id < v.size(); ++id) {
    const auto piece = stored(id);
    // A vocabulary short of scores is a caller's bug (write_llama2c refuses it); 0 keeps the
    // file well-formed rather than reading past the vector.
    const auto i = static_cast<std::size_t>(id);
    const float s = i < v.scores.size() ? v.scores[i] : 0.0f;
    char score[4];
    std::memcpy(score, &s, 4);
    out.append(score, 4);
    put_i32(out, static_cast<int32_t>(piece.size()));
    out += piece;
  }
  return out;
}

} // namespace llmos::model
