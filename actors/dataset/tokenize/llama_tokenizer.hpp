// The tokenizer of Llama-family models as llama2.c and llama.cpp run it: SentencePiece-style
// BPE over a scored vocabulary with byte fallback. Encoding prepends a space (when the
// vocabulary says so), starts from one piece per UTF-8 character (a character without a piece
// becomes its byte pieces <0xAB>), then repeatedly merges the adjacent pair whose merged piece
// has the highest score, leftmost first on ties. Decoding maps byte pieces back to raw bytes,
// drops control pieces (BOS, EOS) and the leading space the encoder added.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "dataset/tokenize/scored_vocab.hpp"
#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

class llama_tokenizer final : public tokenizer {
public:
  /// bad_config when the vocabulary is empty, sizes disagree or special ids are out of range.
  static caf::expected<llama_tokenizer> create(scored_vocab vocab);

  /// Parses serialize()'s payload (after the header line).
  static caf::expected<llama_tokenizer> from_payload(std::string_view payload);

  std::vector<int32_t> encode(std::string_view text) const override;
  /// Control and user-defined pieces spelled in `text` become their ids (longest first); the
  /// text between is encoded as encode() does, each run with its own space prefix (llama.cpp).
  std::vector<int32_t> encode_with_specials(std::string_view text) const override;
  caf::expected<std::string> decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  std::string name() const override; ///< "llama-bpe"
  special_ids specials() const override;
  std::string serialize() const override;

  const scored_vocab& vocab() const { return vocab_; }

private:
  scored_vocab vocab_;
  std::unordered_map<std::string, int32_t> ids_; ///< piece -> id
  int32_t byte_ids_[256] = {};                   ///< byte -> id of "<0xAB>", -1 when absent
  std::vector<int32_t> special_ids_; ///< control and user-defined pieces, longest text first
};

/// The byte a piece "<0xAB>" stands for (SentencePiece's byte fallback, as run.c reads it), -1
/// when the piece is not spelled that way.
int byte_of_piece(std::string_view piece);

} // namespace llmos::dataset
