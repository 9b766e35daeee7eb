// Writes the model-file seeds of the fuzz corpus: one tiny Llama (32 wide, one layer, grouped
// attention, a 12-piece vocabulary with control and byte pieces) as GGUF (f32 and q8_0),
// safetensors, a llama2.c checkpoint with tokenizer.bin, and a SentencePiece model proto. Real
// files from llmos's own writers, so libFuzzer starts from inputs that pass every check and
// mutates its way into the corners. Model files stay out of git: the replay tests (a CTest
// fixture) and tools/fuzz/run.sh write them into the build folder:
//   fuzz_make_seeds FOLDER     (FOLDER/gguf, FOLDER/safetensors, ...)
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/formats/safetensors_file.hpp"

namespace fs = std::filesystem;
using namespace llmos::model;

namespace {

llama_weights tiny_model() {
  llama_weights w;
  w.config = {32, 32, 1, 4, 2, 12, 8};
  w.vocab.pieces = {"<unk>", "<s>", "</s>", "<0x00>",       " ", "a", "b",
                    " a",    "ab",  " ab",  "<|im_start|>", "é"};
  using llmos::dataset::piece_type;
  w.vocab.types = {piece_type::unknown, piece_type::control,      piece_type::control,
                   piece_type::byte,    piece_type::normal,       piece_type::normal,
                   piece_type::normal,  piece_type::normal,       piece_type::normal,
                   piece_type::normal,  piece_type::user_defined, piece_type::normal};
  for (int i = 0; i < 12; ++i)
    w.vocab.scores.push_back(-static_cast<float>(i));
  float x = 0.25f;
  for (const auto& [name, shape] : tensor_names(w.config)) {
    f32_tensor t{shape, {}};
    for (int64_t i = 0; i < t.numel(); ++i, x = x * 1.37f - static_cast<float>(int(x * 1.37f)))
      t.data.push_back(x - 0.5f);
    w.tensors[name] = std::move(t);
  }
  w.chat_template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                    "{% endfor %}";
  return w;
}

void varint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7)
    out += static_cast<char>((v & 0x7f) | 0x80);
  out += static_cast<char>(v);
}

/// SentencePiece's ModelProto with only its pieces (field 1: piece 1, score 2, type 3).
std::string sentencepiece_proto(const llmos::dataset::scored_vocab& v) {
  std::string out;
  for (int i = 0; i < v.size(); ++i) {
    std::string piece;
    piece += '\x0a';
    std::string text = v.pieces[static_cast<std::size_t>(i)] == " "
                           ? "\u2581"
                           : v.pieces[static_cast<std::size_t>(i)];
    varint(piece, text.size());
    piece += text;
    piece += '\x15';
    char score[4];
    std::memcpy(score, &v.scores[static_cast<std::size_t>(i)], 4);
    piece.append(score, 4);
    piece += '\x18';
    varint(piece, static_cast<uint64_t>(v.types[static_cast<std::size_t>(i)]));
    out += '\x0a';
    varint(out, piece.size());
    out += piece;
  }
  return out;
}

bool check(const caf::error& err, const std::string& what) {
  if (err)
    std::cerr << "make_seeds: " << what << ": " << caf::to_string(err) << "\n";
  return !err;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_FOLDER\n";
    return 2;
  }
  const fs::path root{argv[1]};
  for (const char* d : {"gguf", "safetensors", "llama2c", "sentencepiece"})
    fs::create_directories(root / d);
  const auto w = tiny_model();
  const auto scratch = fs::temp_directory_path() / "llmos-make-seeds";
  fs::create_directories(scratch);
  bool ok =
      check(write_gguf(w, (root / "gguf" / "tiny-f32.gguf").string(), gguf_tensor_type::f32),
            "gguf f32") &&
      check(write_gguf(w, (root / "gguf" / "tiny-q8_0.gguf").string(), gguf_tensor_type::q8_0),
            "gguf q8_0") &&
      check(write_safetensors(w, scratch.string()), "safetensors") &&
      check(write_llama2c(w, (root / "llama2c" / "tiny.bin").string(),
                          (root / "llama2c" / "tokenizer-12.bin").string()),
            "llama2c");
  if (!ok)
    return 1;
  fs::copy_file(scratch / "model.safetensors", root / "safetensors" / "tiny.safetensors",
                fs::copy_options::overwrite_existing);
  std::ofstream{root / "sentencepiece" / "tiny.model", std::ios::binary}
      << sentencepiece_proto(w.vocab);
  fs::remove_all(scratch);
  std::cout << "make_seeds: wrote the model-file seeds under " << root << "\n";
  return 0;
}
