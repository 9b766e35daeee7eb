#include "formats_test_util.hpp"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "llmos/messages/error.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos::test {

std::string models_dir() {
  if (const char* env = std::getenv("LLMOS_MODELS_DIR"); env && *env)
    return env;
  return std::string{LLMOS_SOURCE_DIR} + "/.cache/data/models";
}

std::string stories260k_dir(std::string* why) {
  const auto dir = models_dir() + "/stories260K";
  if (std::filesystem::exists(dir + "/stories260K.bin") &&
      std::filesystem::exists(dir + "/tok512.bin"))
    return dir;
  if (why)
    *why = "stories260K is not in " + dir +
           ": run tools/setup/setup.sh with the shared models in ../shared/models (or set "
           "LLMOS_MODELS_DIR to a folder holding stories260K/stories260K.bin and tok512.bin)";
  return "";
}

data_batch lm_batch(const std::vector<int32_t>& ids, int64_t length) {
  const auto rows = static_cast<int64_t>(ids.size()) / length;
  data_batch b;
  b.inputs.dtype = "i32";
  b.inputs.shape = {rows, length};
  b.inputs.data.assign(reinterpret_cast<const char*>(ids.data()),
                       static_cast<std::size_t>(rows * length) * sizeof(int32_t));
  b.labels.assign(static_cast<std::size_t>(rows), "");
  return b;
}

std::optional<model::llama_weights> stories260k(std::string* why) {
  const auto dir = stories260k_dir(why);
  if (dir.empty())
    return std::nullopt;
  auto w = model::read_llama2c(dir + "/stories260K.bin", dir + "/tok512.bin");
  if (!w) {
    if (why)
      *why = describe(w.error());
    return std::nullopt;
  }
  return std::move(*w);
}

model::llama_config small_config(bool tied) {
  model::llama_config c;
  c.dim = 64;
  c.hidden_dim = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 300;
  c.seq_len = 64;
  c.tied = tied;
  return c;
}

model::llama_weights random_llama(const model::llama_config& c, uint64_t seed) {
  model::llama_weights w;
  w.config = c;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (auto& [name, shape] : model::tensor_names(c)) {
    model::f32_tensor t;
    t.shape = shape;
    t.data.resize(static_cast<std::size_t>(t.numel()));
    const bool norm = name.find("norm") != std::string::npos;
    for (auto& x : t.data)
      x = norm ? 1.0f + normal(rng) : normal(rng);
    w.tensors.emplace(name, std::move(t));
  }
  auto& v = w.vocab;
  auto add = [&](std::string piece, float score, dataset::piece_type type) {
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, dataset::piece_type::unknown);
  add("<s>", 0.0f, dataset::piece_type::control);
  add("</s>", 0.0f, dataset::piece_type::control);
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256 && v.size() < c.vocab_size; ++b)
    add(std::string{"<0x"} + hex[b >> 4] + hex[b & 15] + ">", 0.0f, dataset::piece_type::byte);
  static const char* letters[] = {" ", "a", "b", "c", "d", "e", " a", " b", "ab", "cd", "de"};
  for (int i = 0; v.size() < c.vocab_size; ++i) {
    std::string piece = i < 11 ? letters[i] : "p" + std::to_string(i);
    add(piece, -static_cast<float>(i), dataset::piece_type::normal);
  }
  return w;
}

} // namespace llmos::test
