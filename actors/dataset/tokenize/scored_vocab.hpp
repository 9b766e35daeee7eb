// A SentencePiece-style scored vocabulary, the way llama2.c's tokenizer.bin and GGUF's
// tokenizer.ggml.* metadata carry it: one piece, score and type per id, plus the special ids.
// Pieces are stored as text with a plain space (llama2.c's convention); GGUF and SentencePiece
// write U+2581 '▁' for the space, and their readers and writers convert.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmos::dataset {

/// Token types, numbered as GGUF's tokenizer.ggml.token_type (and SentencePiece) number them.
enum class piece_type : int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct scored_vocab {
  std::vector<std::string> pieces; ///< id -> piece; byte pieces are "<0xAB>"
  std::vector<float> scores;       ///< id -> merge score (higher merges first)
  std::vector<piece_type> types;   ///< id -> type
  int32_t unk = 0;
  int32_t bos = 1;
  int32_t eos = 2;
  int32_t pad = -1;
  bool add_space_prefix =
      true; ///< prepend ' ' to text before encoding (SentencePiece's dummy prefix)

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  friend bool operator==(const scored_vocab&, const scored_vocab&) = default;
};

} // namespace llmos::dataset
