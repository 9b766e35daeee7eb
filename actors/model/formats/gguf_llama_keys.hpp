// The metadata keys of a GGUF `llama` model (llama.cpp's names) and their translation to and
// from llmos's torch-free picture: the hyper-parameters and the SentencePiece-style vocabulary.
// One list of names for the reader and the writer, so the two cannot drift apart.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "dataset/tokenize/scored_vocab.hpp"
#include "model/formats/gguf_metadata.hpp"
#include "model/formats/llama_weights.hpp"

namespace llmos::model::gguf::key {

inline const std::string architecture = "general.architecture";
inline const std::string name = "general.name";
inline const std::string alignment = "general.alignment";
inline const std::string file_type = "general.file_type";
inline const std::string context_length = "llama.context_length";
inline const std::string embedding_length = "llama.embedding_length";
inline const std::string block_count = "llama.block_count";
inline const std::string feed_forward_length = "llama.feed_forward_length";
inline const std::string rope_dimension_count = "llama.rope.dimension_count";
inline const std::string head_count = "llama.attention.head_count";
inline const std::string head_count_kv = "llama.attention.head_count_kv";
inline const std::string rms_epsilon = "llama.attention.layer_norm_rms_epsilon";
inline const std::string rope_freq_base = "llama.rope.freq_base";
inline const std::string vocab_size = "llama.vocab_size";
inline const std::string tokenizer_model = "tokenizer.ggml.model";
inline const std::string tokens = "tokenizer.ggml.tokens";
inline const std::string scores = "tokenizer.ggml.scores";
inline const std::string token_type = "tokenizer.ggml.token_type";
inline const std::string bos_id = "tokenizer.ggml.bos_token_id";
inline const std::string eos_id = "tokenizer.ggml.eos_token_id";
inline const std::string unk_id = "tokenizer.ggml.unknown_token_id";
inline const std::string pad_id = "tokenizer.ggml.padding_token_id";
inline const std::string add_space_prefix = "tokenizer.ggml.add_space_prefix";
inline const std::string chat_template = "tokenizer.chat_template";

} // namespace llmos::model::gguf::key

namespace llmos::model::gguf {

/// The hyper-parameters in `md` (architecture must be "llama"); `tied` says whether the file
/// has no output.weight. Sizes are range-checked later by validate().
caf::expected<llama_config> read_llama_config(const metadata& md, bool tied);

/// The vocabulary in tokenizer.ggml.* (model "llama"), with '▁' turned into ' '.
caf::expected<dataset::scored_vocab> read_llama_vocab(const metadata& md);

/// A piece as GGUF stores it: ' ' -> U+2581 '▁'.
std::string piece_to_gguf(const std::string& piece);

/// A piece as llmos holds it: U+2581 '▁' -> ' '.
std::string piece_from_gguf(const std::string& piece);

} // namespace llmos::model::gguf
