// Pretrained model files as llmos imports them: GGUF (parsed from memory as import maps it),
// safetensors (header checked, then each tensor read), llama2.c checkpoints and tokenizer.bin,
// and SentencePiece's tokenizer.model. One source, one binary per format (LLMOS_FUZZ_FORMAT).
// A hostile file must be refused with its name, never read out of bounds, and never make the
// importer allocate what the file does not hold (libFuzzer's -malloc_limit_mb catches that).
#include <string>

#include "fuzz_target.hpp"
#include "model/formats/gguf_reader.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/formats/safetensors_container.hpp"
#include "model/formats/sentencepiece_proto.hpp"

namespace {

[[maybe_unused]] std::string scratch_file(const std::string& name, std::string_view bytes) {
  return llmos::fuzz::write_file(llmos::fuzz::scratch_dir() / name, bytes);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto bytes = llmos::fuzz::as_text(data, size);
#if LLMOS_FUZZ_FORMAT == 0
  (void)llmos::model::parse_gguf(bytes, "fuzz.gguf");
#elif LLMOS_FUZZ_FORMAT == 1
  auto header = llmos::model::read_safetensors_header(scratch_file("model.safetensors", bytes));
  if (header)
    for (const auto& [name, entry] : header->tensors)
      (void)llmos::model::read_safetensors_f32(*header, name);
#elif LLMOS_FUZZ_FORMAT == 2
  const auto checkpoint = scratch_file("model.bin", bytes);
  (void)llmos::model::read_llama2c(checkpoint, scratch_file("tokenizer.bin", bytes));
  (void)llmos::model::parse_llama2c_tokenizer(std::string{bytes}, 32, "tokenizer.bin");
#elif LLMOS_FUZZ_FORMAT == 3
  (void)llmos::model::parse_sentencepiece_model(bytes, "tokenizer.model");
#else
#error "LLMOS_FUZZ_FORMAT must be 0 to 3"
#endif
  return 0;
}
