// The tokenizer interface every data set version carries: text in, int32 ids out, and back.
// A tokenizer serializes to self-describing bytes (a one-line header naming its kind, then its
// payload) so that the exact tokenizer a version was built with is stored beside its shards and
// hashed into its version; `tokenizer::load` rebuilds any kind from those bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace llmos::dataset {

/// Ids of the special tokens; -1 where a tokenizer has none.
struct special_ids {
  int32_t unk = -1;
  int32_t bos = -1;
  int32_t eos = -1;
  int32_t pad = -1;
};

/// Text to ids and back; implementations are immutable once built, so safe to share.
class tokenizer {
public:
  virtual ~tokenizer() = default;

  /// The ids of `text` (no bos/eos added); never fails, unknown input maps to unk or bytes.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;

  /// The ids of text a chat template wrote: where it spells a special piece ("</s>",
  /// "<|im_start|>"), that piece's id rather than the ids of its characters, as llama.cpp
  /// tokenizes templated prompts. Tokenizers without such pieces encode the text as it is.
  virtual std::vector<int32_t> encode_with_specials(std::string_view text) const {
    return encode(text);
  }

  /// The text of `ids`; specials decode to nothing; bad_params names an id outside the vocabulary.
  virtual caf::expected<std::string> decode(std::span<const int32_t> ids) const = 0;

  /// Number of ids (specials included); every id is in [0, vocab_size()).
  virtual int32_t vocab_size() const = 0;

  /// The kind, e.g. "byte", "char", "sentencepiece-bpe", "sentencepiece-unigram".
  virtual std::string name() const = 0;

  /// The special token ids.
  virtual special_ids specials() const = 0;

  /// Self-describing bytes: "llmos-tokenizer/1 <name>\n" followed by the kind's payload.
  virtual std::string serialize() const = 0;

  /// Rebuilds a tokenizer from `serialize()` bytes; bad_config says what is wrong with them.
  static caf::expected<std::unique_ptr<tokenizer>> load(std::string_view bytes);
};

/// The header line `serialize()` starts with for a tokenizer named `name`.
std::string tokenizer_header(std::string_view name);

/// How every decode starts: a bad_params error naming `who` ("char tokenizer"), the first id of
/// `ids` outside [0, vocab_size) and its position; an empty error when all are inside.
caf::error check_ids(std::string_view who, std::span<const int32_t> ids, int32_t vocab_size);

} // namespace llmos::dataset
