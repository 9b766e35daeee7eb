// GGUF v3, llama.cpp's single-file format: a header, typed metadata key/values, tensor infos
// (name, dims innermost first, type, offset) and aligned tensor data. llmos reads the `llama`
// architecture with tensors in F32, F16, BF16 or Q8_0 (dequantised to float32 on load) and the
// SentencePiece-style vocabulary of tokenizer.ggml.*, and writes F32, F16 or Q8_0 files that
// llama.cpp loads. Every offset and size read from the file is checked against the file's size
// before it is used: a damaged or hostile file is refused with its path, the key or tensor name
// and what is wrong, never read out of bounds.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// Tensor encodings GGUF files carry that llmos reads or writes.
enum class gguf_tensor_type { f32, f16, bf16, q8_0 };

/// Reads a GGUF v3 llama model. bad_config: "FILE: what" or "FILE: tensor 'NAME': what"
/// (wrong magic or version, truncated, unknown or unsupported tensor type, a missing tensor or
/// key, a shape that disagrees with the metadata, data past the end of the file).
caf::expected<llama_weights> read_gguf(const std::string& path);

/// Writes `w` to `path` (atomically) with its matrices in `type` (norm weights stay F32, as
/// llama.cpp's converter keeps them); Q8_0 needs the inner dimension to be a multiple of 32 and
/// falls back to F16 for a tensor where it is not. `name` goes to general.name.
caf::error write_gguf(const llama_weights& w, const std::string& path, gguf_tensor_type type,
                      const std::string& name = "llmos");

/// "f32", "f16", "bf16", "q8_0" -> type; bad_params otherwise.
caf::expected<gguf_tensor_type> parse_gguf_tensor_type(const std::string& text);

} // namespace llmos::model
