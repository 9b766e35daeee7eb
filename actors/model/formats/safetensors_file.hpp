// Hugging Face model folders for LlamaForCausalLM: config.json, model.safetensors (an 8-byte
// header length, a JSON header of dtype/shape/data_offsets per tensor, then the raw data; F32,
// F16 and BF16 read) and the tokenizer as tokenizer.json (a BPE model: vocab and ranked merges)
// or tokenizer.model (a SentencePiece model proto). Hugging Face's q and k projections are in
// the half-split rotary layout: the reader permutes them back to the interleaved layout
// llama_weights uses (the inverse of transformers' convert_llama_weights_to_hf permute).
//
// Reading also takes sharded folders (model.safetensors.index.json and its shards), skips the
// rotary_emb.inv_freq buffers older transformers saved, ties the classifier when
// tie_word_embeddings says so or lm_head.weight is absent, prefers tokenizer.json to
// tokenizer.model, and takes bos/eos/pad from config.json, else tokenizer_config.json. The
// pieces: safetensors_container.hpp (the file), hf_config.hpp, hf_tokenizer.hpp (how scores are
// derived from merge ranks) and sentencepiece_proto.hpp.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// Reads the folder. bad_config names the file and the field or tensor and what is wrong
/// (architecture other than LlamaForCausalLM, missing tensor, a shape or dtype that disagrees,
/// offsets past the end of the file, a truncated header). source_sha256 is model.safetensors'
/// sha256; for a sharded folder, the sha256 of the lines "SHARD_FILE SHARD_SHA256\n" in name
/// order.
caf::expected<llama_weights> read_safetensors(const std::string& folder);

/// Writes `w` as a Hugging Face folder (config.json, model.safetensors in F32, tokenizer.json,
/// tokenizer_config.json; each written atomically, config.json last), permuting q and k to the
/// half-split layout; read_safetensors reads it back to equal config and tensors, and the same
/// pieces, types and special ids (scores re-derived, see hf_tokenizer.hpp).
caf::error write_safetensors(const llama_weights& w, const std::string& folder);

} // namespace llmos::model
