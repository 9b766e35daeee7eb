// Pretrained Llama models in and out of the registry. Import reads a llama2.c checkpoint (with
// its tokenizer.bin), a GGUF file or a Hugging Face safetensors folder, builds the llama network
// with those weights and answers the three files of a registry version (checkpoint, tokenizer,
// spec) plus the lineage (source file, its sha256, format). Export turns a version back into a
// GGUF file (F32, F16, Q8_0) or a llama2.c checkpoint and tokenizer.bin, for llama.cpp and other
// runtimes. Torch-free header (the engine hides LibTorch).
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace llmos::model {

/// What an import produces: a registry version's files and its lineage.
struct imported_llama {
  std::string weights;   ///< engine checkpoint bytes
  std::string tokenizer; ///< serialized llama-bpe tokenizer
  std::string spec;      ///< model spec YAML
  nlohmann::json lineage;
};

/// Reads `path` as `format` ("llama2c", "gguf", "safetensors", or "llmos": a checkpoint llmos
/// saved, LoRA adapters kept); for llama2c and llmos `tokenizer` is llama2.c's tokenizer.bin ("" =
/// tokenizer.bin, then tok*.bin, beside the checkpoint). bad_params for
/// an unknown format; the readers' bad_config / io_failed otherwise, naming file and tensor.
caf::expected<imported_llama> import_llama(const std::string& format, const std::string& path,
                                           const std::string& tokenizer, const std::string& name);

/// The export formats of llama versions: gguf (F32), gguf-f16, gguf-q8_0, llama2c.
const std::vector<std::string>& llama_export_formats();

/// The file an export to `format` writes inside a version folder (llama2c also writes
/// tokenizer.bin beside it).
std::string llama_export_file(const std::string& format);

/// Writes the version (its checkpoint file and serialized tokenizer) as `format` to `out`.
caf::error export_llama(const std::string& checkpoint, const std::string& tokenizer_bytes,
                        const std::string& format, const std::string& out);

} // namespace llmos::model
