// Hugging Face tokenizers' tokenizer.json for SentencePiece-style Llama vocabularies ('▁' for the
// space, byte fallback pieces <0xAB>), read into and written from a scored vocabulary.
//
// tokenizer.json ranks merges instead of scoring pieces, so scores are derived on reading:
//   - a piece made by merges gets -(1 + rank of the first merge that makes it): the first merge
//     scores -1, the second -2, ...; merging by highest score then follows merge rank;
//   - single characters, byte pieces and specials (added_tokens) score 0 (never merge results);
//   - a multi-character normal piece no merge makes scores -1e10, llama2.c's floor below which
//     pieces are never merged into (BPE can never produce it either);
//   - a "Unigram" model carries its scores, which are kept.
// Types: added_tokens give unknown (model.unk_token), control (special) or user_defined (not
// special); with byte_fallback, "<0xAB>" pieces are bytes; everything else is normal.
// Byte-level BPE (GPT-2 and Llama 3 style, 'Ġ' for the space) is refused: its pieces are not
// SentencePiece text.
//
// Writing derives the merges from the scores: each normal piece of 2+ characters is split into
// two normal pieces of the vocabulary (the split whose weaker part scores highest, then the
// stronger part, then the leftmost), and the merges are ordered by the merged piece's score,
// highest first. Reading that file back gives the same pieces, ids, types and special ids;
// scores are re-derived as above (same order among merged pieces). Unused pieces (type 5) are
// written and read back as normal ones; a piece containing a literal '▁' reads back with ' '.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "dataset/tokenize/scored_vocab.hpp"

namespace llmos::model {

/// Reads tokenizer.json at `path`. bos/eos are the ids of "<s>" and "</s>" when present (the
/// caller overrides them from config.json); unk is model.unk_token's id; pad is -1.
caf::expected<dataset::scored_vocab> read_hf_tokenizer(const std::string& path);

/// tokenizer.json text for `v`; bad_config naming `path` when a piece appears twice (the file's
/// vocab maps pieces to ids) or is not valid UTF-8.
caf::expected<std::string> hf_tokenizer_json(const dataset::scored_vocab& v,
                                             const std::string& path);

/// tokenizer_config.json text (LlamaTokenizer, the special tokens, the context length and the
/// chat template when there is one).
caf::expected<std::string> hf_tokenizer_config_json(const dataset::scored_vocab& v, int64_t seq_len,
                                                    const std::string& chat_template = "");

/// The chat_template of tokenizer_config.json at `path` ("" when the file or the key is absent):
/// a string, or Transformers' list of named templates, of which the one named "default";
/// bad_config names the field when it is neither.
caf::expected<std::string> read_hf_chat_template(const std::string& path);

/// Sets v's bos/eos/unk from tokenizer_config.json at `path` (bos_token, eos_token, unk_token
/// as strings or {"content": ...}) when the file exists; bad_config when it is malformed or
/// names a token the vocabulary lacks.
caf::error apply_hf_tokenizer_config(const std::string& path, dataset::scored_vocab& v);

} // namespace llmos::model
