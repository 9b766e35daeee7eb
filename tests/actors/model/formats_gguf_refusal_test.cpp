// The refusals a damaged or hostile GGUF file must get: each names the file, the key or tensor
// and what is wrong (bad_config), and none reads out of bounds or allocates what a count claims.
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

namespace llmos {
namespace {

using model::gguf_tensor_type;
using test::refusal;
using test::refusal_of;
using test::slurp;
using test::spill;
using test::test_dir;

TEST(GgufFile, RefusesAFileThatIsNotGguf) {
  auto bytes = test::llama_gguf(test::random_llama(test::small_config(), 8), 0).bytes();
  bytes[0] = 'X';
  const auto msg = refusal_of(bytes);
  EXPECT_NE(msg.find("model.gguf: not a GGUF file"), std::string::npos) << msg;
}

TEST(GgufFile, RefusesGgufVersion2NamingIt) {
  auto b = test::llama_gguf(test::random_llama(test::small_config(), 8), 0);
  b.version = 2;
  const auto msg = refusal_of(b.bytes());
  EXPECT_NE(msg.find("GGUF version 2 is not supported"), std::string::npos) << msg;
}

TEST(GgufFile, RefusesEveryTruncationOfAValidFile) {
  const auto w = test::random_llama(test::small_config(false), 9);
  const auto path = test_dir() + "/model.gguf";
  ASSERT_FALSE(model::write_gguf(w, path, gguf_tensor_type::q8_0));
  const auto bytes = slurp(path);
  ASSERT_TRUE(model::parse_gguf(bytes, "whole"));
  // Every cut inside header, metadata and tensor infos, then a stride through the data.
  std::vector<std::size_t> cuts;
  // The zeros after the last tensor only pad it to the alignment: cuts there lose no data.
  const auto end = bytes.find_last_not_of('\0') + 1;
  for (std::size_t n = 0; n < end; n += n < 12000 ? 1 : 997)
    cuts.push_back(n);
  cuts.push_back(end - 1);
  for (auto n : cuts) {
    const auto msg = refusal(model::parse_gguf(std::string_view{bytes}.substr(0, n), "cut"));
    ASSERT_NE(msg.find("truncated"), std::string::npos) << "cut at " << n << ": " << msg;
  }
  // The same through a file on disk.
  for (auto n : {std::size_t{0}, std::size_t{3}, std::size_t{100}, end - 1}) {
    spill(path, bytes.substr(0, n));
    const auto msg = refusal(model::read_gguf(path));
    EXPECT_NE(msg.find(path + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
}

TEST(GgufFile, RefusesAnUnsupportedTensorTypeNamingTensorAndType) {
  auto b = test::llama_gguf(test::random_llama(test::small_config(), 10), 0);
  auto& t = b.find("blk.0.attn_k.weight");
  t.type = 12; // Q4_K
  t.data.resize(t.data.size() / 4);
  const auto msg = refusal_of(b.bytes());
  EXPECT_NE(msg.find("tensor 'blk.0.attn_k.weight': tensor type 12 (Q4_K) is not supported"),
            std::string::npos)
      << msg;
}

TEST(GgufFile, RefusesAMissingTensor) {
  auto b = test::llama_gguf(test::random_llama(test::small_config(), 11), 0);
  std::erase_if(b.tensors, [](auto& t) { return t.name == "blk.1.ffn_up.weight"; });
  const auto msg = refusal_of(b.bytes());
  EXPECT_NE(msg.find("tensor 'blk.1.ffn_up.weight' is missing"), std::string::npos) << msg;
}

TEST(GgufFile, RefusesAShapeThatDisagreesWithTheMetadata) {
  auto b = test::llama_gguf(test::random_llama(test::small_config(), 12), 0);
  b.set("llama.feed_forward_length", test::gguf_u32(128));
  const auto msg = refusal_of(b.bytes());
  EXPECT_NE(msg.find("tensor 'blk.0.ffn_gate.weight' has shape [96, 64], the configuration "
                     "needs [128, 64]"),
            std::string::npos)
      << msg;
}

TEST(GgufFile, RefusesTensorDataPastTheEndOfTheFile) {
  for (uint64_t offset : {uint64_t{1} << 40, std::numeric_limits<uint64_t>::max() - 31}) {
    auto b = test::llama_gguf(test::random_llama(test::small_config(), 13), 0);
    b.find("output_norm.weight").offset = offset;
    const auto msg = refusal_of(b.bytes());
    EXPECT_NE(
        msg.find("tensor 'output_norm.weight': its 256 bytes at offset " + std::to_string(offset)),
        std::string::npos)
        << msg;
    EXPECT_NE(msg.find("past the end of the file"), std::string::npos) << msg;
  }
}

TEST(GgufFile, RefusesAnotherArchitecture) {
  auto b = test::llama_gguf(test::random_llama(test::small_config(), 14), 0);
  b.set("general.architecture", test::gguf_string("gpt2"));
  const auto msg = refusal_of(b.bytes());
  EXPECT_NE(msg.find("key 'general.architecture': architecture 'gpt2' is not supported"),
            std::string::npos)
      << msg;
}

TEST(GgufFile, RefusesBadMetadataNamingTheKey) {
  const auto w = test::random_llama(test::small_config(), 15);
  using test::gguf_raw;
  struct change {
    std::string key, value, expected;
  };
  const std::vector<change> changes = {
      {"llama.embedding_length", "", "key 'llama.embedding_length': not in the file"},
      {"llama.block_count", test::gguf_string("2"), "key 'llama.block_count': is a string"},
      {"tokenizer.ggml.model", test::gguf_string("gpt2"), "tokenizer 'gpt2' is not supported"},
      {"tokenizer.ggml.bos_token_id", test::gguf_u32(300),
       "key 'tokenizer.ggml.bos_token_id': token id 300 is outside the vocabulary of 300"},
      {"tokenizer.ggml.scores", test::gguf_array(6, 1, gguf_raw(1.0f)),
       "key 'tokenizer.ggml.scores': holds 1 scores for 300 pieces"},
      {"llama.vocab_size", test::gguf_u32(301), "key 'llama.vocab_size': says 301"},
      {"llama.rope.dimension_count", test::gguf_u32(8), "rotates 8 dimensions of a head of 16"},
      {"general.alignment", test::gguf_u32(24), "key 'general.alignment': 24 is not a power"},
      {"llama.block_count", test::gguf_u32(1 << 24),
       "key 'llama.block_count': says 16777216 blocks of 9 tensors; the file holds 20 tensors"},
      {"x.bad_type", gguf_raw(uint32_t{13}), "key 'x.bad_type': unknown value type 13"},
  };
  for (auto& ch : changes) {
    auto b = test::llama_gguf(w, 0);
    if (ch.value.empty())
      b.erase(ch.key);
    else
      b.set(ch.key, ch.value);
    const auto msg = refusal(model::parse_gguf(b.bytes(), "m.gguf"));
    EXPECT_NE(msg.find(ch.expected), std::string::npos) << ch.key << ": " << msg;
  }
}

TEST(GgufFile, RefusesHostileCountsWithoutAllocatingThem) {
  const auto w = test::random_llama(test::small_config(), 16);
  using test::gguf_raw;
  const uint64_t huge = uint64_t{1} << 62;
  auto msg_of = [](const test::gguf_builder& b) {
    return refusal(model::parse_gguf(b.bytes(), "evil.gguf"));
  };
  auto b = test::llama_gguf(w, 0);
  b.set("general.name", gguf_raw(uint32_t{8}) + gguf_raw(huge) + "x");
  EXPECT_NE(msg_of(b).find("key 'general.name': truncated"), std::string::npos) << msg_of(b);
  b = test::llama_gguf(w, 0);
  b.set("tokenizer.ggml.tokens", test::gguf_array(8, huge, test::gguf_str("a")));
  EXPECT_NE(msg_of(b).find("key 'tokenizer.ggml.tokens': truncated: an array of"),
            std::string::npos)
      << msg_of(b);
  b = test::llama_gguf(w, 0);
  b.set("x.deep", test::gguf_array(9, huge, ""));
  EXPECT_NE(msg_of(b).find("key 'x.deep': truncated"), std::string::npos) << msg_of(b);
  b = test::llama_gguf(w, 0);
  std::string nest = gguf_raw(uint32_t{4}) + gguf_raw(uint64_t{0});
  for (int i = 0; i < 20; ++i)
    nest = gguf_raw(uint32_t{9}) + gguf_raw(uint64_t{1}) + nest;
  b.set("x.nest", gguf_raw(uint32_t{9}) + nest);
  EXPECT_NE(msg_of(b).find("key 'x.nest': arrays nested deeper"), std::string::npos) << msg_of(b);
  b = test::llama_gguf(w, 0);
  b.find("blk.0.attn_q.weight").ne = {64, 64, 1, 1, 1};
  EXPECT_NE(msg_of(b).find("tensor 'blk.0.attn_q.weight': has 5 dimensions"), std::string::npos)
      << msg_of(b);
  // One dimension larger than the file, and three whose product overflows what it could hold.
  for (std::vector<uint64_t> ne : {std::vector<uint64_t>{uint64_t{1} << 63, 1},
                                   std::vector<uint64_t>{60000, 60000, 60000, 60000}}) {
    b = test::llama_gguf(w, 0);
    b.find("blk.0.attn_q.weight").ne = ne;
    EXPECT_NE(msg_of(b).find("tensor 'blk.0.attn_q.weight': dimension"), std::string::npos)
        << msg_of(b);
  }
  // Header counts far beyond the file are refused once the bytes run out: the reader walks the
  // file and never sizes anything by these counts.
  for (std::size_t at : {8, 16}) {
    auto bytes = test::llama_gguf(w, 0).bytes();
    bytes.replace(at, 8, gguf_raw(huge));
    const auto msg = refusal(model::parse_gguf(bytes, "evil.gguf"));
    EXPECT_NE(msg.find("evil.gguf: "), std::string::npos) << msg;
  }
}
} // namespace
} // namespace llmos
