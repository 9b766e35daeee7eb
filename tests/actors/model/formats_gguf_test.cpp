// GGUF v3 round trips through write_gguf/read_gguf in every tensor type, files composed by hand
// (BF16, keys of every value type, defaults), the writer's atomic replace and its refusals, and
// the f16/bf16 conversions under them. The reader's refusals are formats_gguf_refusal_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "formats_test_util.hpp"
#include "gguf_test_files.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/gguf_reader.hpp"
#include "model/formats/half_float.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using model::gguf_tensor_type;
using test::refusal;
using test::slurp;
using test::test_dir;

model::llama_weights round_trip(const model::llama_weights& w, gguf_tensor_type type) {
  const auto path = test_dir() + "/model.gguf";
  const auto err = model::write_gguf(w, path, type);
  EXPECT_FALSE(err) << describe(err);
  auto back = model::read_gguf(path);
  EXPECT_TRUE(back) << describe(back.error());
  return back ? std::move(*back) : model::llama_weights{};
}

TEST(GgufHalfFloat, EveryHalfSurvivesARoundTripThroughFloat) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = model::f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f))
      EXPECT_TRUE(std::isnan(model::f16_to_f32(model::f32_to_f16(f)))) << h;
    else
      ASSERT_EQ(model::f32_to_f16(f), h) << "half bits " << h << " read as " << f;
  }
}

TEST(GgufHalfFloat, RoundsToNearestEvenWithSubnormalsAndInfinity) {
  using model::f32_to_f16;
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);     // tie -> even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02); // tie -> even (up)
  EXPECT_EQ(f32_to_f16(-2.5f), 0xc100);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00); // rounds past the largest half
  EXPECT_EQ(f32_to_f16(-1e9f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000); // half of it: tie -> even zero
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);    // 1.5 units: tie -> even
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400); // carries into the smallest normal
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1e-30f), 0x0000);
  EXPECT_TRUE(std::isnan(model::f16_to_f32(f32_to_f16(std::nanf("")))));
  EXPECT_EQ(model::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80); // tie -> even
  EXPECT_EQ(model::bf16_to_f32(0x3fc0), 1.5f);
}

TEST(GgufFile, F32RoundTripIsExactIncludingTheVocabulary) {
  auto w = test::random_llama(test::small_config(true), 1);
  w.vocab.pad = 3;
  w.vocab.add_space_prefix = false;
  w.config.norm_eps = 1e-6;
  w.config.rope_theta = 500000.0;
  w.chat_template = "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}";
  ASSERT_EQ(w.vocab.pieces[259], " "); // the piece that is a lone space
  const auto path = test_dir() + "/model.gguf";
  ASSERT_FALSE(model::write_gguf(w, path, gguf_tensor_type::f32));
  // On disk the space is SentencePiece's U+2581, as llama.cpp expects it.
  const auto bytes = slurp(path);
  EXPECT_NE(bytes.find(test::gguf_str("\xE2\x96\x81") + test::gguf_str("a")), std::string::npos);
  EXPECT_NE(bytes.find(test::gguf_str("\xE2\x96\x81"
                                      "a")),
            std::string::npos);
  auto back = model::read_gguf(path);
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->config, w.config);
  EXPECT_EQ(back->vocab, w.vocab);
  EXPECT_EQ(back->chat_template, w.chat_template) << "tokenizer.chat_template";
  EXPECT_NE(bytes.find(test::gguf_str("tokenizer.chat_template")), std::string::npos);
  EXPECT_EQ(back->tensors.size(), w.tensors.size());
  for (auto& [name, t] : w.tensors) {
    EXPECT_EQ(back->tensors.at(name).shape, t.shape) << name;
    EXPECT_EQ(back->tensors.at(name).data, t.data) << name;
  }
  EXPECT_EQ(back->tensors.count("output.weight"), 0u);
  EXPECT_EQ(back->source, path);
  EXPECT_EQ(back->source_sha256, *model::sha256_file(path));
  EXPECT_EQ(back->format, "gguf");
}

TEST(GgufFile, UntiedClassifierRoundTrips) {
  const auto w = test::random_llama(test::small_config(false), 2);
  const auto back = round_trip(w, gguf_tensor_type::f32);
  EXPECT_FALSE(back.config.tied);
  EXPECT_EQ(back.tensors.at("output.weight").data, w.tensors.at("output.weight").data);
  EXPECT_NE(back.tensors.at("output.weight").data, back.tensors.at("token_embd.weight").data);
}

/// Checks every value of `back` against `w`: norms exact, matrices within `tol(x, block_max)`.
template <class Tol>
void expect_close(const model::llama_weights& w, const model::llama_weights& back, Tol tol) {
  for (auto& [name, t] : w.tensors) {
    const auto& b = back.tensors.at(name);
    ASSERT_EQ(b.shape, t.shape) << name;
    if (t.shape.size() == 1) {
      EXPECT_EQ(b.data, t.data) << name << " is a norm: it stays F32";
      continue;
    }
    for (std::size_t i = 0; i < t.data.size(); i += 32) {
      float block_max = 0;
      for (std::size_t j = i; j < i + 32 && j < t.data.size(); ++j)
        block_max = std::max(block_max, std::fabs(t.data[j]));
      for (std::size_t j = i; j < i + 32 && j < t.data.size(); ++j)
        ASSERT_LE(std::fabs(b.data[j] - t.data[j]), tol(t.data[j], block_max))
            << name << "[" << j << "]: " << t.data[j] << " came back as " << b.data[j];
    }
  }
}

TEST(GgufFile, F16MatricesStayWithinAThousandth) {
  const auto w = test::random_llama(test::small_config(false), 3);
  const auto back = round_trip(w, gguf_tensor_type::f16);
  EXPECT_EQ(back.config, w.config);
  EXPECT_EQ(back.vocab, w.vocab);
  expect_close(w, back, [](float x, float) { return 1e-3f * std::fabs(x) + 1e-7f; });
  EXPECT_NE(back.tensors.at("blk.0.attn_q.weight").data, w.tensors.at("blk.0.attn_q.weight").data)
      << "matrices were meant to be stored as F16";
}

TEST(GgufFile, Q8_0MatricesStayWithinOnePercentOfTheirBlocksLargestValue) {
  const auto w = test::random_llama(test::small_config(false), 4);
  const auto path = test_dir() + "/model.gguf";
  ASSERT_FALSE(model::write_gguf(w, path, gguf_tensor_type::q8_0));
  ASSERT_FALSE(model::write_gguf(w, path + ".f32", gguf_tensor_type::f32));
  // 34 bytes per 32 values against 128: the matrices really are quantised.
  EXPECT_LT(fs::file_size(path) * 3, fs::file_size(path + ".f32"));
  auto back = model::read_gguf(path);
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->config, w.config);
  expect_close(w, *back, [](float, float block_max) { return 0.01f * block_max; });
}

TEST(GgufFile, Q8_0FallsBackToF16WhereRowsAreNotWholeBlocks) {
  auto c = test::small_config(true);
  c.dim = 48; // attention and gate/up rows of 48: F16; ffn_down rows of 96: Q8_0
  c.n_heads = 4;
  c.n_kv_heads = 2;
  const auto w = test::random_llama(c, 5);
  const auto back = round_trip(w, gguf_tensor_type::q8_0);
  EXPECT_EQ(back.config, w.config);
  const auto& q = w.tensors.at("blk.1.attn_q.weight").data;
  const auto& q_back = back.tensors.at("blk.1.attn_q.weight").data;
  for (std::size_t i = 0; i < q.size(); ++i)
    ASSERT_LE(std::fabs(q_back[i] - q[i]), 1e-3f * std::fabs(q[i]) + 1e-7f) << i;
  expect_close(w, back, [](float, float block_max) { return 0.01f * block_max; });
}

/// The bits of `x`.
uint32_t bits(float x) {
  uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

TEST(GgufFile, ReadsBf16TensorsWrittenByHand) {
  const auto w = test::random_llama(test::small_config(true), 6);
  const auto b = test::llama_gguf(w, 30);
  auto back = model::parse_gguf(b.bytes(), "hand.gguf");
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->config, w.config);
  EXPECT_EQ(back->vocab, w.vocab);
  for (auto& [name, t] : w.tensors) {
    const auto& got = back->tensors.at(name).data;
    for (std::size_t i = 0; i < t.data.size(); ++i) {
      // BF16 is a float's top half: reading it back is exact. Compared as bits: GCC 12.2's PRE
      // pass at -O2 folds a float rebuilt from x's masked bits back to x in a loop like this.
      const uint32_t mask = t.shape.size() == 1 ? 0xffffffffu : 0xffff0000u;
      ASSERT_EQ(bits(got[i]), bits(t.data[i]) & mask) << name << "[" << i << "]";
    }
  }
}

TEST(GgufFile, SkipsKeysItDoesNotUseOfEveryValueTypeAndAppliesDefaults) {
  auto c = test::small_config(true);
  c.n_kv_heads = c.n_heads;
  const auto w = test::random_llama(c, 7);
  auto b = test::llama_gguf(w, 0);
  using test::gguf_raw;
  b.erase("llama.attention.head_count_kv");   // defaults to head_count
  b.erase("llama.rope.freq_base");            // defaults to 10000
  b.erase("tokenizer.ggml.add_space_prefix"); // defaults to true
  b.set("x.u8", gguf_raw(uint32_t{0}) + gguf_raw(uint8_t{1}));
  b.set("x.i8", gguf_raw(uint32_t{1}) + gguf_raw(int8_t{-1}));
  b.set("x.u16", gguf_raw(uint32_t{2}) + gguf_raw(uint16_t{1}));
  b.set("x.i16", gguf_raw(uint32_t{3}) + gguf_raw(int16_t{-1}));
  b.set("x.i32", gguf_raw(uint32_t{5}) + gguf_raw(int32_t{-1}));
  b.set("x.u64", gguf_raw(uint32_t{10}) + gguf_raw(uint64_t{1}));
  b.set("x.i64", gguf_raw(uint32_t{11}) + gguf_raw(int64_t{-1}));
  b.set("x.f64", gguf_raw(uint32_t{12}) + gguf_raw(0.5));
  b.set("x.empty", test::gguf_array(8, 0, ""));
  // Arrays of arrays: [[1, 2], ["a"]].
  b.set("x.nested",
        test::gguf_array(9, 2,
                         gguf_raw(uint32_t{4}) + gguf_raw(uint64_t{2}) + gguf_raw(uint32_t{1}) +
                             gguf_raw(uint32_t{2}) + gguf_raw(uint32_t{8}) + gguf_raw(uint64_t{1}) +
                             test::gguf_str("a")));
  // Integers of other widths where llama.cpp writes uint32 are read too.
  b.set("llama.block_count", gguf_raw(uint32_t{11}) + gguf_raw(int64_t{c.n_layers}));
  auto back = model::parse_gguf(b.bytes(), "keys.gguf");
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->config, w.config);
  EXPECT_EQ(back->config.rope_theta, 10000.0);
  EXPECT_TRUE(back->vocab.add_space_prefix);
  EXPECT_EQ(back->vocab.pad, -1);
}
TEST(GgufFile, WriteReplacesTheFileAtomicallyAndRefusesAnInvalidModel) {
  const auto dir = test_dir();
  const auto path = dir + "/model.gguf";
  auto w = test::random_llama(test::small_config(), 17);
  ASSERT_FALSE(model::write_gguf(w, path, gguf_tensor_type::f32));
  ASSERT_FALSE(model::write_gguf(w, path, gguf_tensor_type::f16));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1)
      << "no temporary file is left beside the model";
  const auto before = slurp(path);
  w.tensors.erase("blk.0.ffn_up.weight");
  const auto err = model::write_gguf(w, path, gguf_tensor_type::f32);
  ASSERT_TRUE(err);
  EXPECT_NE(describe(err).find("tensor 'blk.0.ffn_up.weight' is missing"), std::string::npos);
  EXPECT_EQ(slurp(path), before) << "a refused write leaves the old file as it was";
  const auto err2 = model::write_gguf(test::random_llama(test::small_config(), 17),
                                      dir + "/no/such/folder/m.gguf", gguf_tensor_type::f32);
  ASSERT_TRUE(err2);
  EXPECT_EQ(err2.code(), static_cast<uint8_t>(error_code::io_failed));
  EXPECT_NE(describe(err2).find("no/such/folder/m.gguf"), std::string::npos) << describe(err2);
}

TEST(GgufFile, AFileThatCannotBeReadIsAnIoFailureNamingIt) {
  const auto path = test_dir() + "/absent.gguf";
  const auto r = model::read_gguf(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), static_cast<uint8_t>(error_code::io_failed));
  EXPECT_NE(describe(r.error()).find(path + ": cannot be opened"), std::string::npos);
}

TEST(GgufFile, ParsesTensorTypeNames) {
  EXPECT_EQ(*model::parse_gguf_tensor_type("f32"), gguf_tensor_type::f32);
  EXPECT_EQ(*model::parse_gguf_tensor_type("f16"), gguf_tensor_type::f16);
  EXPECT_EQ(*model::parse_gguf_tensor_type("bf16"), gguf_tensor_type::bf16);
  EXPECT_EQ(*model::parse_gguf_tensor_type("q8_0"), gguf_tensor_type::q8_0);
  const auto bad = model::parse_gguf_tensor_type("q4_k");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), static_cast<uint8_t>(error_code::bad_params));
  EXPECT_NE(describe(bad.error()).find("'q4_k'"), std::string::npos);
}

TEST(GgufFile, Bf16WriteRoundsToNearest) {
  const auto w = test::random_llama(test::small_config(), 18);
  const auto back = round_trip(w, gguf_tensor_type::bf16);
  expect_close(w, back, [](float x, float) { return std::ldexp(std::fabs(x), -8); });
}

TEST(GgufFile, Stories260kSurvivesQ8_0) {
  std::string why;
  const auto w = test::stories260k(&why);
  if (!w)
    GTEST_SKIP() << why;
  const auto back = round_trip(*w, gguf_tensor_type::q8_0);
  EXPECT_EQ(back.config, w->config);
  EXPECT_EQ(back.vocab, w->vocab);
  expect_close(*w, back, [](float x, float block_max) {
    return std::max(0.01f * block_max, 1e-3f * std::fabs(x) + 1e-7f);
  });
}
} // namespace
} // namespace llmos
