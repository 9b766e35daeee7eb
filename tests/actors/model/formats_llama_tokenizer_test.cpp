// The Llama tokenizer (dataset::llama_tokenizer) on stories260K's tok512.bin and on hand-made
// vocabularies: its encodings are run.c's (checked against a line-by-line transcription of
// run.c's encode() kept here, on thousands of random strings, and against ids worked out by
// hand), every byte string survives encode -> decode, and it survives serialize -> load.
// It lives with the model formats because tok512.bin is read with the llama2.c reader.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "formats_test_util.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos::dataset {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// run.c's encode() (bos = eos = 0) transcribed as literally as C++ allows, over the pieces as
/// tokenizer.bin stores them: lookup over every piece, byte fallback to id byte + 3, the
/// quadratic scan for the best pair. The reference the heap-based encoder must equal.
std::vector<int32_t> run_c_encode(const std::vector<std::string>& vocab,
                                  const std::vector<float>& scores, std::string_view text) {
  std::map<std::string, int32_t> sorted_vocab; // run.c bsearches a sorted copy
  for (int32_t i = static_cast<int32_t>(vocab.size()) - 1; i >= 0; --i)
    sorted_vocab[vocab[static_cast<std::size_t>(i)]] = i;
  auto str_lookup = [&](const std::string& s) {
    auto it = sorted_vocab.find(s);
    return it == sorted_vocab.end() ? -1 : it->second;
  };
  std::vector<int32_t> tokens;
  if (!text.empty())
    tokens.push_back(str_lookup(" "));
  std::string str_buffer;
  for (std::size_t c = 0; c < text.size(); ++c) {
    if ((static_cast<unsigned char>(text[c]) & 0xC0) != 0x80)
      str_buffer.clear();
    str_buffer += text[c];
    if (c + 1 < text.size() && (static_cast<unsigned char>(text[c + 1]) & 0xC0) == 0x80 &&
        str_buffer.size() < 4)
      continue;
    if (int id = str_lookup(str_buffer); id != -1)
      tokens.push_back(id);
    else
      for (unsigned char b : str_buffer)
        tokens.push_back(b + 3);
    str_buffer.clear();
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1, best_idx = -1;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      int id = str_lookup(vocab[static_cast<std::size_t>(tokens[i])] +
                          vocab[static_cast<std::size_t>(tokens[i + 1])]);
      if (id != -1 && scores[static_cast<std::size_t>(id)] > best_score) {
        best_score = scores[static_cast<std::size_t>(id)];
        best_id = id;
        best_idx = static_cast<int>(i);
      }
    }
    if (best_idx == -1)
      break;
    tokens[static_cast<std::size_t>(best_idx)] = best_id;
    tokens.erase(tokens.begin() + best_idx + 1);
  }
  return tokens;
}

/// tokenizer.bin's pieces as stored (BOS as "\n<s>\n"), read independently of the reader.
std::pair<std::vector<std::string>, std::vector<float>> raw_pieces(const std::string& bytes,
                                                                   int n) {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::size_t pos = 4;
  for (int i = 0; i < n; ++i) {
    float score;
    int32_t len;
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    pieces.push_back(bytes.substr(pos + 8, static_cast<std::size_t>(len)));
    scores.push_back(score);
    pos += 8 + static_cast<std::size_t>(len);
  }
  return {pieces, scores};
}

std::string random_string(std::mt19937_64& rng) {
  static const char* const words[] = {"the",  "The", " ",     " ",     "  ", "cat", "Lily",
                                      "was",  "a",   "happy", "ball",  ",",  ".",   "!",
                                      "\n",   "\"",  "'s",    "don't", "™",  "é",   "你好",
                                      "🙂", "\t",  "123",   "ing",   "ed"};
  std::string s;
  const auto kind = rng() % 4;
  const auto len = rng() % 40;
  for (std::size_t i = 0; i < len; ++i) {
    if (kind == 0 || (kind == 3 && rng() % 2))
      s += words[rng() % std::size(words)];
    else if (kind == 1)
      s += static_cast<char>(32 + rng() % 95); // printable ASCII
    else
      s += static_cast<char>(rng() % 256); // any byte: malformed UTF-8, NUL, stray continuations
  }
  return s;
}

class llama_tokenizer_test : public ::testing::Test {
protected:
  void SetUp() override {
    std::string why;
    dir_ = test::stories260k_dir(&why);
    ASSERT_FALSE(dir_.empty()) << why;
    bytes_ = read_bytes(dir_ + "/tok512.bin");
    auto vocab = model::parse_llama2c_tokenizer(bytes_, 512, dir_ + "/tok512.bin");
    ASSERT_TRUE(vocab) << describe(vocab.error());
    auto tok = llama_tokenizer::create(std::move(*vocab));
    ASSERT_TRUE(tok) << describe(tok.error());
    tok_ = std::make_unique<llama_tokenizer>(std::move(*tok));
  }

  void expect_round_trip(std::string_view text) {
    const auto ids = tok_->encode(text);
    auto back = tok_->decode(ids);
    ASSERT_TRUE(back) << describe(back.error());
    EXPECT_EQ(*back, text);
  }

  std::string dir_;
  std::string bytes_;
  std::unique_ptr<llama_tokenizer> tok_;
};

TEST_F(llama_tokenizer_test, encodes_as_run_c_does) {
  // Ids from a Python transcription of run.c's encode() on tok512.bin.
  EXPECT_EQ(tok_->encode("Once upon a time, there was a little girl named Lily."),
            (std::vector<int32_t>{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395,
                                  317, 426}));
  EXPECT_EQ(tok_->encode("Hello world"), (std::vector<int32_t>{346, 306, 414, 263, 304, 341}));
  // The dummy prefix and the text's own spaces: no "  " piece, so three " " tokens.
  EXPECT_EQ(tok_->encode("  x"), (std::vector<int32_t>{410, 410, 410, 444}));
  // Characters tok512 lacks fall back to their UTF-8 bytes, id byte + 3.
  EXPECT_EQ(tok_->encode("你好🙂"),
            (std::vector<int32_t>{410, 0xE4 + 3, 0xBD + 3, 0xA0 + 3, 0xE5 + 3, 0xA5 + 3, 0xBD + 3,
                                  0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3}));
  EXPECT_TRUE(tok_->encode("").empty());
  EXPECT_EQ(tok_->name(), "llama-bpe");
  EXPECT_EQ(tok_->vocab_size(), 512);
  const auto sp = tok_->specials();
  EXPECT_EQ(sp.unk, 0);
  EXPECT_EQ(sp.bos, 1);
  EXPECT_EQ(sp.eos, 2);
  EXPECT_EQ(sp.pad, -1);
}

TEST_F(llama_tokenizer_test, heap_encoder_equals_run_c_on_random_strings) {
  const auto [pieces, scores] = raw_pieces(bytes_, 512);
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 3000; ++i) {
    const auto s = random_string(rng);
    ASSERT_EQ(tok_->encode(s), run_c_encode(pieces, scores, s)) << "text: '" << s << "'";
  }
}

TEST_F(llama_tokenizer_test, every_byte_string_round_trips) {
  expect_round_trip("");
  expect_round_trip(" ");
  expect_round_trip("  x");
  expect_round_trip("x  ");
  expect_round_trip("\n\nThe end.\n");
  expect_round_trip("Once upon a time, there was a little dog named Max. \"Max, look!\" he said.");
  expect_round_trip("中文：你好，世界。 Emoji: 🙂👍🏽 — and ™ € ü");
  expect_round_trip("\xff\xfe\x80 a\x80\x80\x80\x80\x80 b \xe4\xbd end \xf0\x9f");
  expect_round_trip(std::string("nul\0inside", 10));
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i)
    expect_round_trip(random_string(rng));
  // BOS and EOS around a text decode to nothing and keep the dummy space dropped.
  auto ids = tok_->encode("Hi there");
  ids.insert(ids.begin(), 1);
  ids.push_back(2);
  auto text = tok_->decode(ids);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "Hi there");
}

TEST_F(llama_tokenizer_test, decode_refuses_ids_outside_the_vocabulary) {
  for (int32_t bad : {-1, 512, 100000}) {
    const std::vector<int32_t> ids{265, bad};
    auto text = tok_->decode(ids);
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().code(), static_cast<uint8_t>(error_code::bad_params));
    EXPECT_NE(describe(text.error()).find("id " + std::to_string(bad) + " at position 1"),
              std::string::npos)
        << describe(text.error());
  }
}

TEST_F(llama_tokenizer_test, survives_serialize_and_load) {
  const auto bytes = tok_->serialize();
  ASSERT_TRUE(bytes.starts_with("llmos-tokenizer/1 llama-bpe\n"));
  auto loaded = tokenizer::load(bytes);
  ASSERT_TRUE(loaded) << describe(loaded.error());
  auto* llama = dynamic_cast<llama_tokenizer*>(loaded->get());
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->vocab(), tok_->vocab());
  EXPECT_EQ((*loaded)->serialize(), bytes);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto s = random_string(rng);
    EXPECT_EQ((*loaded)->encode(s), tok_->encode(s));
  }
}

TEST_F(llama_tokenizer_test, damaged_payloads_are_refused) {
  const auto bytes = tok_->serialize();
  const auto header = std::string{"llmos-tokenizer/1 llama-bpe\n"}.size();
  for (std::size_t n = header; n < bytes.size(); ++n) {
    auto loaded = tokenizer::load(std::string_view{bytes}.substr(0, n));
    ASSERT_FALSE(loaded) << "accepted a payload truncated to " << n << " of " << bytes.size();
    EXPECT_EQ(loaded.error().code(), static_cast<uint8_t>(error_code::bad_config));
  }
  auto refused = [&](std::string b, const std::string& words) {
    auto loaded = tokenizer::load(b);
    ASSERT_FALSE(loaded) << "accepted; expected '" << words << "'";
    EXPECT_NE(describe(loaded.error()).find(words), std::string::npos) << describe(loaded.error());
  };
  refused(bytes + "x", "1 unexpected bytes after the last piece");
  auto b = bytes;
  b[header + 4 + 4] = 7; // bos id 7 is fine ...
  EXPECT_TRUE(tokenizer::load(b));
  b[header + 4 + 4 + 3] = 0x40; // ... bos id 0x40000007 is not
  refused(b, "bos id 1073741831 is outside the vocabulary");
  b = bytes;
  b[header + 20] = 2; // the add_space_prefix flag
  refused(b, "add_space_prefix flag is 2");
  b = bytes;
  b[header + 21 + 4] = 9; // piece 0's type
  refused(b, "piece 0 has type 9");
  b = bytes;
  b[header + 3] = 0x7F; // a piece count the payload cannot hold
  refused(b, "more than its");
}

/// A vocabulary small enough to work out on paper (llama2.c's layout where it matters: unk,
/// bos, eos first; no byte pieces except 'z', so other unknown characters become unk).
scored_vocab paper_vocab() {
  scored_vocab v;
  auto add = [&](std::string p, float s, piece_type t) {
    v.pieces.push_back(std::move(p));
    v.scores.push_back(s);
    v.types.push_back(t);
  };
  add("<unk>", 0, piece_type::unknown);  // 0
  add("<s>", 0, piece_type::control);    // 1
  add("</s>", 0, piece_type::control);   // 2
  add(" ", 0, piece_type::normal);       // 3
  add("a", 0, piece_type::normal);       // 4
  add("b", 0, piece_type::normal);       // 5
  add("c", 0, piece_type::normal);       // 6
  add("ab", -1, piece_type::normal);     // 7
  add("bc", -1, piece_type::normal);     // 8
  add("abc", -3, piece_type::normal);    // 9
  add(" a", -2, piece_type::normal);     // 10
  add("<0x7A>", 0, piece_type::byte);    // 11: 'z'
  add("cc", -1e10f, piece_type::normal); // 12: at run.c's floor, never merged
  return v;
}

TEST(llama_tokenizer_paper, merges_worked_out_by_hand) {
  auto tok = llama_tokenizer::create(paper_vocab());
  ASSERT_TRUE(tok) << describe(tok.error());
  using ids = std::vector<int32_t>;
  // " a b c": " a"(-2), "ab"(-1), "bc"(-1) -> tie at -1, leftmost "ab" wins; then "abc"(-3).
  EXPECT_EQ(tok->encode("abc"), (ids{3, 9}));
  // " b c a": only "bc" merges; "bca" and " bc" are no pieces.
  EXPECT_EQ(tok->encode("bca"), (ids{3, 8, 4}));
  // " c a b": "ab" merges; " c" and "cab" are no pieces.
  EXPECT_EQ(tok->encode("cab"), (ids{3, 6, 7}));
  // 'z' has only its byte piece; " a" merges beside it; a byte piece never merges.
  EXPECT_EQ(tok->encode("az"), (ids{10, 11}));
  // 'y' has no piece and no byte piece: unk.
  EXPECT_EQ(tok->encode("ay"), (ids{10, 0}));
  EXPECT_EQ(tok->encode("cc"), (ids{3, 6, 6}));
  EXPECT_EQ(*tok->decode(ids{1, 3, 9, 11, 2}), "abcz");
  EXPECT_EQ(*tok->decode(ids{10, 0}), "a"); // unk decodes to nothing

  auto v = paper_vocab();
  v.add_space_prefix = false;
  auto bare = llama_tokenizer::create(v);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->encode("abc"), (ids{9}));
  EXPECT_EQ(*bare->decode(ids{3, 4}), " a"); // nothing was added, so nothing is dropped
}

TEST(llama_tokenizer_paper, templated_text_spells_special_pieces) {
  auto v = paper_vocab();
  v.pieces.push_back("<|a|>"); // 13: a user-defined marker that starts like no text piece
  v.scores.push_back(0);
  v.types.push_back(piece_type::user_defined);
  auto tok = llama_tokenizer::create(v);
  ASSERT_TRUE(tok) << describe(tok.error());
  using ids = std::vector<int32_t>;
  // Each run of text keeps its space prefix (llama.cpp's rule after a special piece).
  EXPECT_EQ(tok->encode_with_specials("abc</s><s>ab"), (ids{3, 9, 2, 1, 3, 7}));
  EXPECT_EQ(tok->encode_with_specials("<|a|>c"), (ids{13, 3, 6}));
  EXPECT_EQ(tok->encode_with_specials("</s>"), (ids{2}));
  EXPECT_EQ(tok->encode_with_specials("abc"), tok->encode("abc")) << "no marker, same ids";
  EXPECT_EQ(tok->encode_with_specials("</s").size(), tok->encode("</s").size())
      << "a marker cut short is text";
  EXPECT_NE(tok->encode("abc</s>"), tok->encode_with_specials("abc</s>"))
      << "plain encode keeps markers as text";
}

TEST(llama_tokenizer_paper, bad_vocabularies_are_refused) {
  auto refused = [](scored_vocab v, const std::string& words) {
    auto tok = llama_tokenizer::create(std::move(v));
    ASSERT_FALSE(tok) << "accepted; expected '" << words << "'";
    EXPECT_EQ(tok.error().code(), static_cast<uint8_t>(error_code::bad_config));
    EXPECT_NE(describe(tok.error()).find(words), std::string::npos) << describe(tok.error());
  };
  refused(scored_vocab{}, "empty");
  auto v = paper_vocab();
  v.scores.pop_back();
  refused(v, "13 pieces but 12 scores");
  v = paper_vocab();
  v.eos = 13;
  refused(v, "eos id 13 is outside");
  v = paper_vocab();
  v.pieces[11] = "<0xZZ>";
  refused(v, "piece 11 is a byte piece but reads '<0xZZ>'");
  v = paper_vocab();
  v.unk = -1;
  refused(v, "no unk piece and no byte piece");
}

/// A random vocabulary with llama2.c's layout and many tied scores, to stress the order of
/// merges: every piece is a concatenation of two earlier ones, so long merge chains happen.
std::pair<std::vector<std::string>, std::vector<float>> random_vocab(std::mt19937_64& rng) {
  std::vector<std::string> pieces{"<unk>", "\n<s>\n", "\n</s>\n"};
  std::vector<float> scores{0, 0, 0};
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    pieces.push_back(std::string{"<0x"} + hex[b >> 4] + hex[b & 15] + ">");
    scores.push_back(0);
  }
  const std::size_t first = pieces.size();
  for (const char* c : {" ", "a", "b", "c", "é"}) {
    pieces.push_back(c);
    scores.push_back(0);
  }
  while (pieces.size() < first + 60) {
    auto p = pieces[first + rng() % (pieces.size() - first)] +
             pieces[first + rng() % (pieces.size() - first)];
    if (p.size() > 8 || std::find(pieces.begin(), pieces.end(), p) != pieces.end())
      continue;
    pieces.push_back(p);
    scores.push_back(-static_cast<float>(rng() % 4)); // few distinct scores: many ties
  }
  return {pieces, scores};
}

TEST(llama_tokenizer_paper, heap_encoder_equals_run_c_on_random_vocabularies) {
  std::mt19937_64 rng(99);
  static const char* const chars[] = {" ", "a", "b", "c", "é", "d", "\xc3"};
  for (int round = 0; round < 40; ++round) {
    auto [pieces, scores] = random_vocab(rng);
    scored_vocab sv;
    sv.pieces = pieces;
    sv.scores = scores;
    auto bytes = model::llama2c_tokenizer_bytes(sv);
    auto vocab = model::parse_llama2c_tokenizer(bytes, static_cast<int64_t>(pieces.size()), "r");
    ASSERT_TRUE(vocab) << describe(vocab.error());
    auto tok = llama_tokenizer::create(std::move(*vocab));
    ASSERT_TRUE(tok) << describe(tok.error());
    for (int i = 0; i < 100; ++i) {
      std::string s;
      for (auto n = rng() % 30; n > 0; --n)
        s += chars[rng() % std::size(chars)];
      ASSERT_EQ(tok->encode(s), run_c_encode(pieces, scores, s))
          << "round " << round << " '" << s << "'";
      auto back = tok->decode(tok->encode(s));
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, s);
    }
  }
}

TEST(llama_tokenizer_paper, long_inputs_encode_quickly) {
  // 1 MB of text in one call: the naive scan would take minutes, the heap well under seconds.
  auto tok = llama_tokenizer::create(paper_vocab());
  ASSERT_TRUE(tok);
  std::string s;
  while (s.size() < (1u << 20))
    s += "abc cab bca ";
  const auto ids = tok->encode(s);
  EXPECT_GT(ids.size(), s.size() / 4);
  EXPECT_EQ(*tok->decode(ids), s);
}

} // namespace
} // namespace llmos::dataset
