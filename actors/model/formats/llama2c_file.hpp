// llama2.c's files: the "legacy" checkpoint (7 int32 header, float32 tensors layer-major, two
// unused RoPE tables, then the classifier when it is not shared) and tokenizer.bin (max token
// length, then score, length and bytes per piece). Read for import, written for export, so a
// model fine-tuned in llmos runs in llama2.c's run.c again.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// Reads a checkpoint and its tokenizer.bin. bad_config names the file and what is wrong
/// (truncated header or tensor, sizes that disagree, trailing bytes, a vocabulary of another
/// size); io_failed when a file cannot be read.
caf::expected<llama_weights> read_llama2c(const std::string& checkpoint,
                                          const std::string& tokenizer);

/// Writes `w` as a llama2.c checkpoint and tokenizer.bin (atomically: temp file, rename).
caf::error write_llama2c(const llama_weights& w, const std::string& checkpoint,
                         const std::string& tokenizer);

/// tokenizer.bin's bytes parsed into a vocabulary of `vocab_size` pieces; `where` names the file.
/// Types are inferred as llama2.c's export wrote them: id 0 unknown, 1 and 2 control (bos, eos),
/// "<0xAB>" byte pieces, the rest normal; the control pieces are renamed <unk>, <s>, </s>.
caf::expected<dataset::scored_vocab>
parse_llama2c_tokenizer(const std::string& bytes, int64_t vocab_size, const std::string& where);

/// The tokenizer.bin bytes of `v`.
std::string llama2c_tokenizer_bytes(const dataset::scored_vocab& v);

} // namespace llmos::model
