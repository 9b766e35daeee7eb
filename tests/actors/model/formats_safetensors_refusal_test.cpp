// Hugging Face safetensors folders that are damaged or not Llama: each is refused with the file,
// the field or tensor, and the cause; every cut of a valid file is refused and damaged headers
// never crash the reader.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "formats_test_util.hpp"
#include "model/formats/safetensors_file.hpp"
#include "safetensors_test_files.hpp"

namespace llmos {
namespace {

using namespace test::hf_files;
using json = nlohmann::ordered_json;

// --- refusals ----------------------------------------------------------------------------------

TEST(safetensors_file, refuses_what_is_not_llama) {
  test::temp_folder dir;
  const auto folder = edited_folder(dir, [](auto&) {});
  auto config = config_json(tiny_config());
  config["architectures"] = {"GPT2LMHeadModel"};
  config["model_type"] = "gpt2";
  spit(folder + "/config.json", config.dump());
  expect_refusal(folder, {"config.json: field 'architectures'", "GPT2LMHeadModel"});
  config = config_json(tiny_config());
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  spit(folder + "/config.json", config.dump());
  expect_refusal(folder, {"config.json: field 'rope_scaling'", "not supported"});
}

TEST(safetensors_file, refuses_malformed_json_naming_the_file) {
  test::temp_folder dir;
  const auto folder = edited_folder(dir, [](auto&) {});
  spit(folder + "/config.json", R"({"hidden_size": 16,)");
  expect_refusal(folder, {"config.json: not valid JSON"});
  spit(folder + "/config.json", config_json(tiny_config()).dump());
  spit(folder + "/tokenizer.json", R"({"model": {"type": "BPE", "vocab": {)");
  expect_refusal(folder, {"tokenizer.json: not valid JSON"});
  spit(folder + "/tokenizer.json", tokenizer_json().dump());
  std::string bad = "{not json}      ";
  spit(folder + "/model.safetensors", std::string{16, 0, 0, 0, 0, 0, 0, 0} + bad);
  expect_refusal(folder, {"model.safetensors: the header is not valid JSON"});
}

TEST(safetensors_file, refuses_truncated_and_oversized_headers) {
  test::temp_folder dir;
  const auto folder = edited_folder(dir, [](auto&) {});
  const auto file = folder + "/model.safetensors";
  const auto bytes = slurp(file);
  spit(file, bytes.substr(0, 5));
  expect_refusal(folder, {"model.safetensors: the file is 5 bytes", "truncated header"});
  spit(file, bytes.substr(0, 40));
  expect_refusal(folder, {"model.safetensors: header length", "runs past the end of the 40-byte "
                                                              "file (truncated header)"});
  auto longer = bytes;
  const uint64_t n = bytes.size();
  std::memcpy(longer.data(), &n, 8);
  spit(file, longer);
  expect_refusal(folder, {"header length " + std::to_string(n) + " runs past the end"});
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(longer.data(), &huge, 8);
  spit(file, longer);
  expect_refusal(folder, {"over the limit"});
}

TEST(safetensors_file, refuses_data_offsets_past_the_end_or_of_the_wrong_size) {
  test::temp_folder dir;
  const auto folder = edited_folder(dir, [](auto&) {});
  const auto bytes = slurp(folder + "/model.safetensors");
  spit(folder + "/model.safetensors", bytes.substr(0, bytes.size() - 4));
  expect_refusal(folder, {"tensor 'model.norm.weight': data_offsets [", "run past the end"});
  edited_folder(dir, [](auto& t) { t.back().bytes.resize(32); });
  expect_refusal(folder,
                 {"tensor 'model.norm.weight'", "hold 32 bytes, shape [16] in F32 needs 64"});
}

TEST(safetensors_file, refuses_dtypes_other_than_f32_f16_bf16) {
  test::temp_folder dir;
  const auto folder = edited_folder(dir, [](auto& t) {
    t.back().dtype = "I64";
    t.back().bytes.resize(16 * 8);
  });
  expect_refusal(folder, {"model.safetensors: tensor 'model.norm.weight': dtype I64 is not read"});
}

TEST(safetensors_file, refuses_shapes_that_disagree_with_config_and_missing_tensors) {
  test::temp_folder dir;
  auto c = tiny_config();
  c.hidden_dim = 24;
  const auto folder = edited_folder(
      dir, [](auto&) {}, c);
  expect_refusal(folder, {"tensor 'model.layers.0.mlp.down_proj.weight': shape [16, 32] "
                          "disagrees with config.json, which needs [16, 24]"});
  edited_folder(dir, [](auto& t) {
    std::erase_if(t, [](auto& x) { return x.name == "model.layers.0.mlp.up_proj.weight"; });
  });
  expect_refusal(folder,
                 {"model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight': missing"});
  edited_folder(dir, [](auto& t) {
    t.push_back({"model.layers.0.self_attn.q_proj.bias", "F32", {16}, std::string(64, '\0')});
  });
  expect_refusal(folder, {"tensor 'model.layers.0.self_attn.q_proj.bias': not part of"});
  c = tiny_config();
  c.vocab_size = 12;
  edited_folder(
      dir, [&](auto& t) { t = hf_tensors(c, "F32"); }, c);
  expect_refusal(folder, {"the vocabulary has 10 pieces, the model 12"});
}

TEST(safetensors_file, every_cut_of_a_valid_file_is_refused) {
  test::temp_folder dir;
  ASSERT_FALSE(model::write_safetensors(test::random_llama(tiny_config(), 3), dir / "m"));
  const auto file = dir / "m/model.safetensors";
  const auto bytes = slurp(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  for (std::size_t cut = 0; cut < bytes.size(); cut += cut < 8 + n + 64 ? 1 : 61) {
    spit(file, bytes.substr(0, cut));
    const auto why = refusal(dir / "m");
    EXPECT_NE(why.find("model.safetensors"), std::string::npos) << "cut at " << cut << ": " << why;
  }
  // Corrupting header bytes gives a refusal or a model that validates: never a crash.
  std::mt19937 rng(5);
  for (int i = 0; i < 400; ++i) {
    auto damaged = bytes;
    damaged[rng() % (8 + n)] = static_cast<char>(rng());
    spit(file, damaged);
    auto w = model::read_safetensors(dir / "m");
    if (w) {
      EXPECT_FALSE(model::validate(*w, "damaged"));
    }
  }
}

TEST(safetensors_file, write_refuses_a_vocabulary_tokenizer_json_cannot_hold) {
  test::temp_folder dir;
  auto w = test::random_llama(tiny_config(), 4);
  w.vocab.pieces[4] = w.vocab.pieces[3];
  const auto err = model::write_safetensors(w, dir / "m");
  ASSERT_TRUE(err);
  EXPECT_NE(describe(err).find("tokenizer.json: field 'model.vocab': piece"), std::string::npos)
      << describe(err);
  EXPECT_NE(describe(err).find("appears twice (ids 3 and 4)"), std::string::npos);
}

} // namespace
} // namespace llmos
