// The character tokenizer: one id per Unicode code point seen in the training texts, after four
// specials. It is the simplest learned vocabulary (useful for small character-level models and
// for Chinese, where a character is already a word-sized unit); characters not seen in training
// and malformed UTF-8 bytes map to <unk>.
#pragma once

#include <unordered_map>

#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

/// How the character vocabulary is chosen.
struct char_options {
  int32_t max_vocab_size = 0; ///< specials included; 0 keeps every character seen
  uint64_t min_count = 1;     ///< characters seen fewer times become <unk>
};

/// Code points seen in training as ids, after pad/unk/bos/eos.
class char_tokenizer final : public tokenizer {
public:
  static constexpr int32_t pad_id = 0; ///< padding
  static constexpr int32_t unk_id = 1; ///< unseen character or malformed byte
  static constexpr int32_t bos_id = 2; ///< beginning of sequence
  static constexpr int32_t eos_id = 3; ///< end of sequence
  static constexpr int32_t num_specials = 4;

  /// Builds the vocabulary from `texts` (the training split): most frequent characters first,
  /// ties by code point, so the same texts in any order give the same ids.
  static caf::expected<char_tokenizer> train(std::span<const std::string> texts,
                                             const char_options& opts = {});

  /// Rebuilds from the payload `serialize()` wrote after its header line.
  static caf::expected<char_tokenizer> from_payload(std::string_view payload);

  /// One id per code point; unseen characters and malformed bytes give unk_id.
  std::vector<int32_t> encode(std::string_view text) const override;

  /// The characters of `ids`; unk decodes to U+FFFD, the other specials to nothing.
  caf::expected<std::string> decode(std::span<const int32_t> ids) const override;

  /// Specials plus learned characters.
  int32_t vocab_size() const override { return num_specials + static_cast<int32_t>(chars_.size()); }

  /// "char".
  std::string name() const override { return "char"; }

  /// pad 0, unk 1, bos 2, eos 3.
  special_ids specials() const override { return {unk_id, bos_id, eos_id, pad_id}; }

  /// Header line, then each learned code point as a little-endian uint32 in id order.
  std::string serialize() const override;

private:
  void index();

  std::vector<char32_t> chars_; ///< chars_[i] has id num_specials + i
  std::unordered_map<char32_t, int32_t> ids_;
};

} // namespace llmos::dataset
