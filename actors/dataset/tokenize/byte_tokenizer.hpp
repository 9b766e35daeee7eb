// The byte tokenizer: ids 0..255 are the UTF-8 bytes of the text, followed by three specials.
// It needs no training, never produces <unk> and round-trips any byte string exactly, so it is
// the baseline every learned tokenizer is compared against (and the fallback for binary-ish text).
#pragma once

#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

/// UTF-8 bytes as ids 0..255, plus pad/bos/eos.
class byte_tokenizer final : public tokenizer {
public:
  static constexpr int32_t pad_id = 256; ///< padding
  static constexpr int32_t bos_id = 257; ///< beginning of sequence
  static constexpr int32_t eos_id = 258; ///< end of sequence

  /// One id per byte of `text`.
  std::vector<int32_t> encode(std::string_view text) const override;

  /// The bytes of `ids`, specials skipped.
  caf::expected<std::string> decode(std::span<const int32_t> ids) const override;

  /// 259: 256 bytes and three specials.
  int32_t vocab_size() const override { return 259; }

  /// "byte".
  std::string name() const override { return "byte"; }

  /// pad 256, bos 257, eos 258, no unk.
  special_ids specials() const override { return {-1, bos_id, eos_id, pad_id}; }

  /// The header line only: there is nothing to learn.
  std::string serialize() const override;
};

} // namespace llmos::dataset
