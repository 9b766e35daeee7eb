// SentencePiece's tokenizer.model read without libprotobuf or libsentencepiece: the ModelProto
// wire format parsed by hand. Only what a scored vocabulary needs is kept: the pieces (field 1:
// piece, score, type), trainer_spec's special ids (unk_id 40, bos_id 41, eos_id 42, pad_id 43)
// and normalizer_spec's add_dummy_prefix (3); every other field is skipped by its wire type.
// Every varint and length is bounds-checked, so a damaged file is refused, never over-read.
// Also the '▁' (U+2581) <-> ' ' conversion shared by the Hugging Face tokenizer files.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "dataset/tokenize/scored_vocab.hpp"

namespace llmos::model {

/// Parses a serialized SentencePiece ModelProto; bad_config "WHERE: field 'X': what".
caf::expected<dataset::scored_vocab> parse_sentencepiece_model(std::string_view bytes,
                                                               const std::string& where);

/// Reads the tokenizer.model file at `path` (io_failed when it cannot be read).
caf::expected<dataset::scored_vocab> read_sentencepiece_model(const std::string& path);

/// A SentencePiece piece ('▁' for the space) as scored_vocab text (' ').
std::string sentencepiece_to_text(std::string_view piece);

/// scored_vocab text (' ') as a SentencePiece piece ('▁').
std::string text_to_sentencepiece(std::string_view text);

} // namespace llmos::model
