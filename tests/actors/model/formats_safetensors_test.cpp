// Hugging Face safetensors folders: what llmos writes it reads back equal; folders built by hand
// (as transformers writes them) are read with q/k permuted to the interleaved layout, F16/BF16
// converted, shards joined, and tokenizer.json and tokenizer.model understood (the latter
// checked against SentencePiece itself).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "dataset/tokenize/sentencepiece_tokenizer.hpp"
#include "formats_test_util.hpp"
#include "model/formats/safetensors_file.hpp"
#include "model/formats/sentencepiece_proto.hpp"
#include "safetensors_test_files.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using namespace test::hf_files;
using dataset::piece_type;
using json = nlohmann::ordered_json;

// --- round trips -----------------------------------------------------------------------------

void round_trip(bool tied) {
  test::temp_folder dir;
  auto w = test::random_llama(test::small_config(tied), tied ? 7 : 8);
  w.config.norm_eps = 1e-6, w.config.rope_theta = 500000.0;
  if (tied) // untied keeps none: its tokenizer_config.json has no chat_template key
    w.chat_template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{% endfor %}";
  ASSERT_FALSE(model::write_safetensors(w, dir / "m"));
  EXPECT_EQ((std::set<fs::path>{fs::directory_iterator(dir / "m"), {}}),
            (std::set<fs::path>{dir / "m/config.json", dir / "m/model.safetensors",
                                dir / "m/tokenizer.json", dir / "m/tokenizer_config.json"}))
      << "no temporary files are left behind";
  auto r = model::read_safetensors(dir / "m");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->config, w.config);
  expect_same_tensors(*r, w);
  EXPECT_EQ(r->vocab.pieces, w.vocab.pieces);
  EXPECT_EQ(r->vocab.types, w.vocab.types);
  EXPECT_EQ(r->vocab.unk, w.vocab.unk);
  EXPECT_EQ(r->vocab.bos, w.vocab.bos);
  EXPECT_EQ(r->vocab.eos, w.vocab.eos);
  EXPECT_EQ(r->vocab.pad, w.vocab.pad);
  EXPECT_EQ(r->vocab.add_space_prefix, w.vocab.add_space_prefix);
  EXPECT_EQ(r->format, "safetensors");
  EXPECT_EQ(r->chat_template, w.chat_template) << "tokenizer_config.json's chat_template";
  EXPECT_EQ(r->source, dir / "m");
  EXPECT_EQ(r->source_sha256, *model::sha256_file(dir / "m/model.safetensors"));

  // Scores are re-derived from merge ranks: the merged pieces (" a", " b", "ab", "cd", "de" in
  // random_llama) keep their order, single characters score 0, pieces no merge makes -1e10.
  auto score = [&](const std::string& p) {
    auto it = std::find(r->vocab.pieces.begin(), r->vocab.pieces.end(), p);
    return r->vocab.scores[static_cast<std::size_t>(it - r->vocab.pieces.begin())];
  };
  EXPECT_EQ(score(" a"), -1.0f);
  EXPECT_EQ(score(" b"), -2.0f);
  EXPECT_EQ(score("ab"), -3.0f);
  EXPECT_EQ(score("de"), -5.0f);
  EXPECT_EQ(score("a"), 0.0f);
  EXPECT_EQ(score("p11"), -1e10f);

  // What was read writes the same bytes again, and reads back identical (scores included).
  ASSERT_FALSE(model::write_safetensors(*r, dir / "again"));
  EXPECT_EQ(slurp(dir / "again/model.safetensors"), slurp(dir / "m/model.safetensors"));
  auto r2 = model::read_safetensors(dir / "again");
  ASSERT_TRUE(r2) << describe(r2.error());
  EXPECT_EQ(r2->vocab, r->vocab);
}

TEST(safetensors_file, a_list_of_named_chat_templates_gives_the_default) {
  test::temp_folder dir;
  auto w = test::random_llama(test::small_config(true), 9);
  ASSERT_FALSE(model::write_safetensors(w, dir / "m"));
  auto config = json::parse(slurp(dir / "m/tokenizer_config.json"));
  config["chat_template"] = json::array(
      {{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "[INST]"}}});
  spit(dir / "m/tokenizer_config.json", config.dump());
  auto r = model::read_safetensors(dir / "m");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->chat_template, "[INST]");
  config["chat_template"] = 3;
  spit(dir / "m/tokenizer_config.json", config.dump());
  auto bad = model::read_safetensors(dir / "m");
  ASSERT_FALSE(bad);
  EXPECT_NE(describe(bad.error()).find("'chat_template'"), std::string::npos)
      << describe(bad.error());
}

TEST(safetensors_file, round_trip_untied) {
  round_trip(false);
}

TEST(safetensors_file, round_trip_tied) {
  round_trip(true);
}

TEST(safetensors_file, header_is_padded_to_8_bytes_like_the_reference_writer) {
  test::temp_folder dir;
  ASSERT_FALSE(model::write_safetensors(test::random_llama(tiny_config(), 1), dir / "m"));
  const auto bytes = slurp(dir / "m/model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header.at("model.embed_tokens.weight").at("data_offsets")[0], 0);
  const auto config = nlohmann::json::parse(slurp(dir / "m/config.json"));
  EXPECT_EQ(config.at("architectures")[0], "LlamaForCausalLM");
  EXPECT_EQ(config.at("torch_dtype"), "float32");
}

// --- reading what transformers writes --------------------------------------------------------

TEST(safetensors_file, q_and_k_are_permuted_from_half_split_to_interleaved) {
  test::temp_folder dir;
  const auto c = tiny_config();
  // Each HF row holds its own index: the interleaved result shows where every row went.
  write_hf_folder(dir / "hf", c, hf_tensors(c, "F32", [](std::size_t, int64_t r, int64_t col) {
                    return static_cast<float>(r) + static_cast<float>(col) / 100.0f;
                  }));
  auto w = model::read_safetensors(dir / "hf");
  ASSERT_TRUE(w) << describe(w.error());
  // head size 8: interleaved row 2i+j of a head is HF row j*4+i.
  const std::vector<int64_t> q_rows = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
  const std::vector<int64_t> k_rows = {0, 4, 1, 5, 2, 6, 3, 7};
  auto rows_of = [&](const std::string& name) {
    const auto& t = w->tensors.at(name);
    std::vector<int64_t> rows;
    for (int64_t r = 0; r < t.shape[0]; ++r) {
      rows.push_back(static_cast<int64_t>(t.data[static_cast<std::size_t>(r * t.shape[1])]));
      EXPECT_FLOAT_EQ(t.data[static_cast<std::size_t>(r * t.shape[1] + 3)],
                      static_cast<float>(rows.back()) + 0.03f)
          << "whole rows move";
    }
    return rows;
  };
  EXPECT_EQ(rows_of("blk.0.attn_q.weight"), q_rows);
  EXPECT_EQ(rows_of("blk.0.attn_k.weight"), k_rows);
  EXPECT_EQ(rows_of("blk.0.attn_v.weight"), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));

  // Writing permutes back: the file holds the HF layout it was read from.
  ASSERT_FALSE(model::write_safetensors(*w, dir / "out"));
  const auto q = raw_f32(dir / "out/model.safetensors", "model.layers.0.self_attn.q_proj.weight");
  const auto k = raw_f32(dir / "out/model.safetensors", "model.layers.0.self_attn.k_proj.weight");
  for (int64_t r = 0; r < 16; ++r)
    EXPECT_EQ(q[static_cast<std::size_t>(r * 16)], static_cast<float>(r));
  for (int64_t r = 0; r < 8; ++r)
    EXPECT_EQ(k[static_cast<std::size_t>(r * 16)], static_cast<float>(r));
}

TEST(safetensors_file, f16_and_bf16_read_as_the_same_floats) {
  test::temp_folder dir;
  const auto c = tiny_config(false);
  std::map<std::string, model::llama_weights> read;
  for (std::string dtype : {"F32", "F16", "BF16"}) {
    auto tensors = hf_tensors(c, dtype);
    // Special encodings in model.norm.weight (last): signs, subnormals, infinity.
    auto& norm = tensors.back().bytes;
    const std::vector<uint16_t> bits =
        dtype == "F16" ? std::vector<uint16_t>{0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555}
                       : std::vector<uint16_t>{0x3f80, 0xc000, 0x7f80, 0x0001, 0x3eab};
    if (dtype != "F32")
      std::memcpy(norm.data(), bits.data(), bits.size() * 2);
    write_hf_folder(dir / dtype, c, tensors);
    auto w = model::read_safetensors(dir / dtype);
    ASSERT_TRUE(w) << dtype << ": " << describe(w.error());
    read[dtype] = std::move(*w);
  }
  auto strip = [](model::llama_weights w) {
    w.tensors.erase("output_norm.weight");
    return w;
  };
  expect_same_tensors(strip(read["F16"]), strip(read["F32"]));
  expect_same_tensors(strip(read["BF16"]), strip(read["F32"]));
  const auto& h = read["F16"].tensors.at("output_norm.weight").data;
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(h[3], INFINITY);
  EXPECT_EQ(h[4], 0.333251953125f);
  const auto& b = read["BF16"].tensors.at("output_norm.weight").data;
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.0f);
  EXPECT_EQ(b[2], INFINITY);
  EXPECT_EQ(b[3], std::bit_cast<float>(0x00010000u));
  EXPECT_EQ(b[4], std::bit_cast<float>(0x3eab0000u));
  EXPECT_EQ(read["F16"].config, c);
}

TEST(safetensors_file, sharded_folders_read_like_single_files) {
  test::temp_folder dir;
  const auto c = tiny_config(false);
  auto tensors = hf_tensors(c, "F32");
  write_hf_folder(dir / "single", c, tensors);
  write_hf_folder(dir / "sharded", c, {});
  fs::remove(dir / "sharded/model.safetensors");
  const auto half = tensors.size() / 2;
  json map;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    map[tensors[i].name] =
        i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  spit(dir / "sharded/model-00001-of-00002.safetensors",
       safetensors_bytes({tensors.begin(), tensors.begin() + static_cast<long>(half)}));
  spit(dir / "sharded/model-00002-of-00002.safetensors",
       safetensors_bytes({tensors.begin() + static_cast<long>(half), tensors.end()}));
  spit(dir / "sharded/model.safetensors.index.json",
       json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump());
  auto a = model::read_safetensors(dir / "single");
  auto b = model::read_safetensors(dir / "sharded");
  ASSERT_TRUE(a) << describe(a.error());
  ASSERT_TRUE(b) << describe(b.error());
  expect_same_tensors(*a, *b);
  EXPECT_EQ(b->source_sha256.size(), 64u);

  map[tensors[0].name] = "../elsewhere.safetensors";
  spit(dir / "sharded/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  EXPECT_NE(refusal(dir / "sharded").find("not a file name within the folder"), std::string::npos);
  map[tensors[0].name] = "model-00002-of-00002.safetensors";
  spit(dir / "sharded/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  EXPECT_NE(
      refusal(dir / "sharded")
          .find("model-00002-of-00002.safetensors: tensor 'model.embed_tokens.weight': missing"),
      std::string::npos);
}

TEST(safetensors_file, tokenizer_json_scores_follow_merge_ranks) {
  test::temp_folder dir;
  const auto c = tiny_config();
  for (bool pairs : {false, true}) {
    write_hf_folder(dir / "hf", c, hf_tensors(c, "F32"));
    spit(dir / "hf/tokenizer.json", tokenizer_json(pairs).dump());
    auto w = model::read_safetensors(dir / "hf");
    ASSERT_TRUE(w) << describe(w.error());
    EXPECT_EQ(w->vocab.pieces, tiny_pieces);
    EXPECT_EQ(w->vocab.types, tiny_types);
    EXPECT_EQ(w->vocab.scores, (std::vector<float>{0, 0, 0, 0, 0, 0, -1, -2, 0, -3}));
    EXPECT_EQ(w->vocab.unk, 0);
    EXPECT_EQ(w->vocab.bos, 1);
    EXPECT_EQ(w->vocab.eos, 2);
    EXPECT_EQ(w->vocab.pad, -1);
    EXPECT_TRUE(w->vocab.add_space_prefix);
  }
  // A Unigram model carries its scores.
  const std::vector<float> scores = {0, 0, 0, -1.5f, -2, -3, -4.25f, -5, 0, -6};
  auto unigram = tokenizer_json();
  json vocab = json::array();
  for (std::size_t i = 0; i < tiny_pieces.size(); ++i)
    vocab.push_back(json::array({spm(tiny_pieces[i]), scores[i]}));
  unigram["model"] = {
      {"type", "Unigram"}, {"unk_id", 0}, {"byte_fallback", true}, {"vocab", vocab}};
  spit(dir / "hf/tokenizer.json", unigram.dump());
  auto u = model::read_safetensors(dir / "hf");
  ASSERT_TRUE(u) << describe(u.error());
  EXPECT_EQ(u->vocab.pieces, tiny_pieces);
  EXPECT_EQ(u->vocab.types, tiny_types);
  EXPECT_EQ(u->vocab.scores, scores);

  // Byte-level BPE (Llama 3) is refused, not misread.
  auto byte_level = tokenizer_json();
  byte_level["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  spit(dir / "hf/tokenizer.json", byte_level.dump());
  expect_refusal(dir / "hf", {"tokenizer.json: field 'pre_tokenizer': byte-level BPE"});
  spit(dir / "hf/tokenizer.json", tokenizer_json().dump());

  // Without ids in config.json, tokenizer_config.json names the specials.
  auto config = config_json(c);
  config.erase("bos_token_id");
  config.erase("eos_token_id");
  spit(dir / "hf/config.json", config.dump());
  spit(dir / "hf/tokenizer_config.json",
       R"({"bos_token": {"content": "</s>"}, "eos_token": "<s>", "pad_token": null})");
  auto w = model::read_safetensors(dir / "hf");
  ASSERT_TRUE(w) << describe(w.error());
  EXPECT_EQ(w->vocab.bos, 2);
  EXPECT_EQ(w->vocab.eos, 1);
}

// --- tokenizer.model: a SentencePiece ModelProto, encoded by hand -----------------------------

std::string varint(uint64_t v) {
  std::string out;
  do {
    out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return out;
}

std::string field(uint32_t number, uint32_t wire, const std::string& payload) {
  return varint(number << 3 | wire) + (wire == 2 ? varint(payload.size()) : "") + payload;
}

std::string fixed32(float f) {
  return std::string(reinterpret_cast<const char*>(&f), 4);
}

std::string sentencepiece_model(const std::vector<float>& scores) {
  std::string trainer = field(40, 0, varint(0)) + field(41, 0, varint(1)) +
                        field(42, 0, varint(2)) + field(43, 0, varint(~uint64_t{0})); // pad -1
  std::string normalizer = field(1, 2, "identity") + field(3, 0, varint(0));
  std::string out = field(2, 2, trainer) + field(3, 2, normalizer) + field(50, 5, fixed32(1.0f));
  // Pieces last: every cut of the file loses a piece, so every cut must be refused.
  for (std::size_t i = 0; i < tiny_pieces.size(); ++i) {
    std::string piece = field(1, 2, spm(tiny_pieces[i])) + field(2, 5, fixed32(scores[i]));
    if (tiny_types[i] != piece_type::normal)
      piece += field(3, 0, varint(static_cast<uint64_t>(tiny_types[i])));
    out += field(1, 2, piece);
  }
  return out;
}

TEST(safetensors_file, tokenizer_model_is_parsed_without_sentencepiece) {
  test::temp_folder dir;
  const auto c = tiny_config();
  write_hf_folder(dir / "hf", c, hf_tensors(c, "F32"));
  fs::remove(dir / "hf/tokenizer.json");
  const std::vector<float> scores = {0, 0, 0, -1.5f, -2, -3, -4.25f, -5, 0, -6};
  const auto proto = sentencepiece_model(scores);
  spit(dir / "hf/tokenizer.model", proto);
  auto w = model::read_safetensors(dir / "hf");
  ASSERT_TRUE(w) << describe(w.error());
  EXPECT_EQ(w->vocab.pieces, tiny_pieces);
  EXPECT_EQ(w->vocab.types, tiny_types);
  EXPECT_EQ(w->vocab.scores, scores);
  EXPECT_EQ(w->vocab.unk, 0);
  EXPECT_EQ(w->vocab.pad, -1);
  EXPECT_FALSE(w->vocab.add_space_prefix);

  for (std::size_t cut = 0; cut < proto.size(); ++cut) {
    spit(dir / "hf/tokenizer.model", proto.substr(0, cut));
    const auto why = refusal(dir / "hf");
    EXPECT_TRUE(why.find("tokenizer.model") != std::string::npos ||
                why.find("the vocabulary has") != std::string::npos)
        << "cut at " << cut << ": " << why;
  }
}

/// A SentencePiece BPE model trained by SentencePiece itself (through the dataset library).
caf::expected<dataset::sentencepiece_tokenizer> trained_sentencepiece() {
  const std::vector<std::string> train{"the quick brown fox", "jumps over the lazy dog 狐狸",
                                       "the dog and the fox"};
  return dataset::sentencepiece_tokenizer::train(
      train,
      dataset::sentencepiece_options{dataset::sentencepiece_model::bpe, 300, 1.0, 100, 4096});
}

const std::vector<std::string> probes = {"the lazy 狐狸 jumps over the fox", "quickly, the dogs!",
                                         "  two  spaces", "unseen: ünïcödé ✓"};

TEST(safetensors_file, tokenizer_model_parser_agrees_with_sentencepiece_itself) {
  auto sp = trained_sentencepiece();
  ASSERT_TRUE(sp) << describe(sp.error());
  auto v = model::parse_sentencepiece_model(sp->model_proto(), "tokenizer.model");
  ASSERT_TRUE(v) << describe(v.error());
  ASSERT_EQ(v->size(), sp->vocab_size());
  const auto specials = sp->specials();
  EXPECT_EQ(v->unk, specials.unk);
  EXPECT_EQ(v->bos, specials.bos);
  EXPECT_EQ(v->eos, specials.eos);
  EXPECT_EQ(v->pad, specials.pad);
  EXPECT_EQ(v->types[0], piece_type::unknown);
  EXPECT_EQ(std::count(v->types.begin(), v->types.end(), piece_type::byte), 256);
  // SentencePiece's ids, spelled with the parsed pieces, give the text back.
  for (const auto& probe : probes) {
    std::string text;
    for (auto id : sp->encode(probe)) {
      const auto& p = v->pieces[static_cast<std::size_t>(id)];
      text += v->types[static_cast<std::size_t>(id)] == piece_type::byte
                  ? std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)))
                  : p;
    }
    EXPECT_EQ(v->add_space_prefix ? text.substr(1) : text, probe);
  }
}

TEST(safetensors_file, tokenizer_json_keeps_the_encoding_of_a_sentencepiece_vocabulary) {
  // Scores are re-derived from merge ranks on reading; what the llama tokenizer makes of the
  // vocabulary must not change.
  auto sp = trained_sentencepiece();
  ASSERT_TRUE(sp) << describe(sp.error());
  auto v = model::parse_sentencepiece_model(sp->model_proto(), "tokenizer.model");
  ASSERT_TRUE(v) << describe(v.error());
  auto c = tiny_config();
  c.vocab_size = v->size();
  auto w = test::random_llama(c, 9);
  w.vocab = *v;
  test::temp_folder dir;
  ASSERT_FALSE(model::write_safetensors(w, dir / "m"));
  auto r = model::read_safetensors(dir / "m");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->vocab.pieces, v->pieces);
  EXPECT_EQ(r->vocab.types, v->types);
  auto before = dataset::llama_tokenizer::create(*v);
  auto after = dataset::llama_tokenizer::create(r->vocab);
  ASSERT_TRUE(before && after);
  // 31 characters: fewer ids means pieces were merged.
  EXPECT_LT(before->encode(probes[0]).size(), 31u);
  for (const auto& probe : probes)
    EXPECT_EQ(after->encode(probe), before->encode(probe)) << probe;
}

} // namespace
} // namespace llmos
