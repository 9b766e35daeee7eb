#include "model/export/llama_package.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "model/checkpoint_bytes.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/formats/safetensors_file.hpp"
#include "model/train/engine.hpp"

namespace llmos::model {

namespace {

namespace fs = std::filesystem;

/// llama2.c ships the tokenizer beside the checkpoint as tokenizer.bin (or tok<N>.bin for the
/// small custom vocabularies of stories260K and friends).
std::string tokenizer_beside(const std::string& checkpoint) {
  const auto dir = fs::path(checkpoint).parent_path();
  if (fs::exists(dir / "tokenizer.bin"))
    return (dir / "tokenizer.bin").string();
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir.empty() ? fs::path{"."} : dir, ec)) {
    const auto file = entry.path().filename().string();
    if (file.starts_with("tok") && file.ends_with(".bin"))
      return entry.path().string();
  }
  return (dir / "tokenizer.bin").string();
}

caf::expected<llama_weights> read_weights(const std::string& format, const std::string& path,
                                          const std::string& tokenizer) {
  if (format == "llama2c")
    return read_llama2c(path, tokenizer.empty() ? tokenizer_beside(path) : tokenizer);
  if (format == "gguf")
    return read_gguf(path);
  if (format == "safetensors")
    return read_safetensors(path);
  return make_llmos_error(error_code::bad_params,
                          "import: format '" + format +
                              "' is unknown (llama2c, gguf, safetensors, llmos)");
}

/// The registry's package of engine `e` named `name`: its checkpoint bytes, `tok` serialized,
/// its spec, and lineage naming the source file, its hash and its format.
caf::expected<imported_llama> package(engine& e, const dataset::llama_tokenizer& tok,
                                      const std::string& name, const std::string& path,
                                      const std::string& sha256, const std::string& format) {
  auto bytes = checkpoint_bytes(e);
  if (!bytes)
    return std::move(bytes.error());
  imported_llama out;
  out.weights = std::move(*bytes);
  out.tokenizer = tok.serialize();
  auto spec = e.spec();
  spec.name = name;
  out.spec = to_yaml(spec);
  out.lineage = {{"source", fs::absolute(path).string()},
                 {"sha256", sha256},
                 {"format", format},
                 {"produced_by", "import"},
                 {"parent", nullptr},
                 {"parameters", e.parameter_count()}};
  return out;
}

/// An llmos checkpoint of a llama model (`send MODEL save`, for example a LoRA fine-tune whose
/// adapters a server serves over its base), with the llama2.c tokenizer.bin it was trained with.
caf::expected<imported_llama>
import_checkpoint(const std::string& path, const std::string& tokenizer, const std::string& name) {
  auto e = engine::load(path);
  if (!e)
    return make_llmos_error(error_code::bad_config, path + ": " + describe(e.error()));
  if ((*e)->spec().architecture != "llama")
    return make_llmos_error(error_code::bad_params,
                            path + ": a " + (*e)->spec().architecture +
                                " checkpoint; import takes llama models (publish others from "
                                "their model actor)");
  const auto tok_path = tokenizer.empty() ? tokenizer_beside(path) : tokenizer;
  std::ifstream in{tok_path, std::ios::binary};
  if (!in)
    return make_llmos_error(error_code::io_failed,
                            path + ": cannot read the tokenizer " + tok_path +
                                " (format=llmos takes llama2.c's tokenizer.bin: tokenizer=FILE)");
  const std::string tok_bytes{std::istreambuf_iterator<char>(in), {}};
  auto vocab = parse_llama2c_tokenizer(tok_bytes, (*e)->shape().vocab_size, tok_path);
  if (!vocab)
    return std::move(vocab.error());
  auto tok = dataset::llama_tokenizer::create(*vocab);
  if (!tok)
    return make_llmos_error(error_code::bad_config,
                            tok_path + ": tokenizer: " + describe(tok.error()));
  auto sha = sha256_file(path);
  if (!sha)
    return std::move(sha.error());
  return package(**e, *tok, name, path, *sha, "llmos");
}

} // namespace

caf::expected<imported_llama> import_llama(const std::string& format, const std::string& path,
                                           const std::string& tokenizer, const std::string& name) {
  if (format == "llmos")
    return import_checkpoint(path, tokenizer, name);
  auto w = read_weights(format, path, tokenizer);
  if (!w)
    return std::move(w.error());
  auto tok = dataset::llama_tokenizer::create(w->vocab);
  if (!tok)
    return make_llmos_error(error_code::bad_config, path + ": tokenizer: " + describe(tok.error()));
  auto e = engine::from_llama(*w, name);
  if (!e)
    return std::move(e.error());
  return package(**e, *tok, name, path, w->source_sha256, format);
}

const std::vector<std::string>& llama_export_formats() {
  static const std::vector<std::string> formats{"gguf", "gguf-f16", "gguf-q8_0", "llama2c"};
  return formats;
}

std::string llama_export_file(const std::string& format) {
  if (format == "gguf")
    return "model.gguf";
  if (format == "gguf-f16")
    return "model.f16.gguf";
  if (format == "gguf-q8_0")
    return "model.q8_0.gguf";
  return "model.llama2c.bin";
}

caf::error export_llama(const std::string& checkpoint, const std::string& tokenizer_bytes,
                        const std::string& format, const std::string& out) {
  auto e = engine::load(checkpoint);
  if (!e)
    return std::move(e.error());
  auto w = (*e)->to_llama();
  if (!w)
    return std::move(w.error());
  auto tok = dataset::tokenizer::load(tokenizer_bytes);
  if (!tok)
    return std::move(tok.error());
  auto* llama_tok = dynamic_cast<const dataset::llama_tokenizer*>(tok->get());
  if (llama_tok == nullptr)
    return make_llmos_error(error_code::bad_params,
                            "export: the version's tokenizer is '" + (*tok)->name() +
                                "'; llama formats carry a llama-bpe vocabulary");
  w->vocab = llama_tok->vocab();
  const auto name = (*e)->spec().name;
  if (format == "llama2c")
    return write_llama2c(*w, out, (fs::path(out).parent_path() / "tokenizer.bin").string());
  const auto type = format == "gguf"       ? gguf_tensor_type::f32
                    : format == "gguf-f16" ? gguf_tensor_type::f16
                                           : gguf_tensor_type::q8_0;
  if (format != "gguf" && format != "gguf-f16" && format != "gguf-q8_0")
    return make_llmos_error(error_code::bad_params,
                            "export: format '" + format +
                                "' is not a llama format (gguf, gguf-f16, gguf-q8_0, llama2c)");
  return write_gguf(*w, out, type, name);
}

} // namespace llmos::model
