// Hugging Face model folders for LlamaForCausalLM: config.json, model.safetensors (an 8-byte
// header length, a JSON header of dtype/shape/data_offsets per tensor, then the raw data; F32,
// F16 and BF16 read) and the tokenizer as tokenizer.json (a BPE model: vocab and ranked merges)
// or tokenizer.model (a SentencePiece model proto). Hugging Face's q and k projections are in
// the half-split rotary layout: the reader permutes them back to the interleaved layout
// llama_weights uses (the inverse of transformers' convert_llama_weights_to_hf permute).
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// Reads the folder. bad_config names the file and the field or tensor and what is wrong
/// (architecture other than LlamaForCausalLM, missing tensor, a shape or dtype that disagrees,
/// offsets past the end of the file, a truncated header).
caf::expected<llama_weights> read_safetensors(const std::string& folder);

/// Writes `w` as a Hugging Face folder (config.json, model.safetensors in F32, tokenizer.json),
/// permuting q and k to the half-split layout; read_safetensors reads it back to equal weights.
caf::error write_safetensors(const llama_weights& w, const std::string& folder);

} // namespace llmos::model
