// Tokenizers: byte, char and SentencePiece (BPE, unigram) round-trip text exactly, including
// Chinese, train deterministically on the training split only, and travel as bytes.
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "dataset/split/split.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "dataset/tokenize/char_tokenizer.hpp"
#include "dataset/tokenize/sentencepiece_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "store_test_corpus.hpp"

using namespace llmos::dataset;

namespace {

std::string round_trip(const tokenizer& tok, const std::string& text) {
  auto ids = tok.encode(text);
  auto back = tok.decode(ids);
  return back ? *back : "<decode failed: " + llmos::describe(back.error()) + ">";
}

// The English fortunes split 80/10/10, so tokenizers train on train and are checked on test.
struct english_split {
  std::vector<std::string> train;
  std::vector<std::string> test;
};

english_split english_corpus() {
  auto records = test_corpus::english_fortunes();
  english_split out;
  if (records.empty())
    return out;
  auto parts = assign_splits(records, split_spec{});
  if (!parts)
    return out;
  out.train = texts_of(records, *parts, split_part::train);
  out.test = texts_of(records, *parts, split_part::test);
  return out;
}

} // namespace

TEST(byte_tokenizer, round_trips_any_bytes) {
  byte_tokenizer tok;
  const std::string texts[] = {"", "hello world", "床前明月光，疑是地上霜。",
                               std::string{"\xff\xfe\x00 bad utf8", 12}};
  for (const auto& t : texts) {
    EXPECT_EQ(tok.encode(t).size(), t.size());
    EXPECT_EQ(round_trip(tok, t), t);
  }
  EXPECT_EQ(tok.vocab_size(), 259);
  EXPECT_EQ(tok.encode("A"), std::vector<int32_t>{65});
}

TEST(byte_tokenizer, specials_decode_to_nothing_and_bad_ids_are_errors) {
  byte_tokenizer tok;
  const auto s = tok.specials();
  std::vector<int32_t> ids{s.bos, 'h', 'i', s.eos, s.pad};
  EXPECT_EQ(*tok.decode(ids), "hi");
  const std::vector<int32_t> bad{'h', 259};
  auto r = tok.decode(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_NE(llmos::describe(r.error()).find("259"), std::string::npos);
  EXPECT_FALSE(tok.decode(std::vector<int32_t>{-1}));
}

TEST(char_tokenizer, learns_characters_and_maps_unseen_to_unk) {
  const std::vector<std::string> train{"abca", "床前明月光", "aaa"};
  auto tok = char_tokenizer::train(train);
  ASSERT_TRUE(tok) << llmos::describe(tok.error());
  // 'a' is the most frequent character, so it gets the first id after the specials.
  EXPECT_EQ(tok->encode("a"), std::vector<int32_t>{char_tokenizer::num_specials});
  EXPECT_EQ(tok->vocab_size(), char_tokenizer::num_specials + 8);
  EXPECT_EQ(round_trip(*tok, "床前abc光"), "床前abc光");
  auto ids = tok->encode("a疑z");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], char_tokenizer::unk_id);
  EXPECT_EQ(ids[2], char_tokenizer::unk_id);
  EXPECT_EQ(*tok->decode(ids), "a\uFFFD\uFFFD");
  // A malformed byte is one <unk>, not a crash or a swallowed neighbour.
  EXPECT_EQ(tok->encode(std::string{"a\xC3"}).back(), char_tokenizer::unk_id);
}

TEST(char_tokenizer, same_texts_in_another_order_give_the_same_ids) {
  std::vector<std::string> a{"hello", "world", "你好"};
  std::vector<std::string> b{"你好", "world", "hello"};
  EXPECT_EQ(char_tokenizer::train(a)->serialize(), char_tokenizer::train(b)->serialize());
}

TEST(char_tokenizer, vocabulary_cap_keeps_the_most_frequent) {
  auto tok = char_tokenizer::train(std::vector<std::string>{"aaabbc"},
                                   char_options{char_tokenizer::num_specials + 2, 1});
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab_size(), char_tokenizer::num_specials + 2);
  EXPECT_EQ(tok->encode("c"), std::vector<int32_t>{char_tokenizer::unk_id});
  EXPECT_FALSE(char_tokenizer::train(std::vector<std::string>{"a"}, char_options{3, 1}));
}

TEST(char_tokenizer, chinese_poems_round_trip) {
  auto poems = test_corpus::chinese_poems();
  if (poems.empty())
    GTEST_SKIP() << "fortunes-zh not installed (run tools/setup/setup.sh)";
  auto tok = char_tokenizer::train(poems);
  ASSERT_TRUE(tok);
  EXPECT_GT(tok->vocab_size(), 2000); // Tang poems use a few thousand distinct characters
  for (const auto& p : poems)
    ASSERT_EQ(round_trip(*tok, p), p);
}

TEST(tokenizer, serialize_and_load_every_kind) {
  const std::vector<std::string> train{"the quick brown fox", "jumps over the lazy dog 狐狸"};
  std::vector<std::unique_ptr<tokenizer>> kinds;
  kinds.push_back(std::make_unique<byte_tokenizer>());
  kinds.push_back(std::make_unique<char_tokenizer>(*char_tokenizer::train(train)));
  auto sp = sentencepiece_tokenizer::train(
      train, sentencepiece_options{sentencepiece_model::unigram, 300, 1.0, 100, 4096});
  ASSERT_TRUE(sp) << llmos::describe(sp.error());
  kinds.push_back(std::make_unique<sentencepiece_tokenizer>(std::move(*sp)));
  const std::string probe = "the lazy 狐狸 jumps";
  for (const auto& tok : kinds) {
    auto bytes = tok->serialize();
    auto loaded = tokenizer::load(bytes);
    ASSERT_TRUE(loaded) << tok->name() << ": " << llmos::describe(loaded.error());
    EXPECT_EQ((*loaded)->name(), tok->name());
    EXPECT_EQ((*loaded)->vocab_size(), tok->vocab_size());
    EXPECT_EQ((*loaded)->serialize(), bytes);
    EXPECT_EQ((*loaded)->encode(probe), tok->encode(probe));
    EXPECT_EQ(round_trip(**loaded, probe), probe) << tok->name();
  }
}

TEST(tokenizer, load_refuses_bad_bytes) {
  for (std::string bad :
       {std::string{}, std::string{"garbage"}, std::string{"llmos-tokenizer/1 wordpiece\n"},
        std::string{"llmos-tokenizer/1 char\nabc"},
        std::string{"llmos-tokenizer/1 char\n\x00\xD8\x00\x00", 27},
        std::string{"llmos-tokenizer/1 sentencepiece-bpe\nnot a proto"},
        std::string{"llmos-tokenizer/1 byte\nextra"}}) {
    auto r = tokenizer::load(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
  }
}

TEST(sentencepiece_tokenizer, bpe_and_unigram_on_english_train_split) {
  auto corpus = english_corpus();
  if (corpus.train.empty())
    GTEST_SKIP() << "fortunes not installed (run tools/setup/setup.sh)";
  for (auto model : {sentencepiece_model::bpe, sentencepiece_model::unigram}) {
    sentencepiece_options opts;
    opts.model = model;
    opts.vocab_size = 1000;
    opts.max_sentences = 3000;
    const auto t0 = std::chrono::steady_clock::now();
    auto tok = sentencepiece_tokenizer::train(corpus.train, opts);
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(tok) << llmos::describe(tok.error());
    std::printf("sentencepiece %s: %zu train texts, vocab %d, trained in %.2f s\n",
                std::string{to_string(model)}.c_str(), corpus.train.size(), tok->vocab_size(),
                secs);
    EXPECT_EQ(tok->name(), "sentencepiece-" + std::string{to_string(model)});
    EXPECT_EQ(tok->vocab_size(), 1000);
    const auto s = tok->specials();
    EXPECT_EQ(s.unk, 0);
    EXPECT_EQ(s.bos, 1);
    EXPECT_EQ(s.eos, 2);
    EXPECT_EQ(s.pad, 3);
    // Held-out texts round-trip exactly (whitespace, newlines, unseen characters via bytes) and
    // compress well below one token per byte.
    std::size_t bytes = 0;
    std::size_t tokens = 0;
    for (const auto& text : corpus.test) {
      ASSERT_EQ(round_trip(*tok, text), text);
      bytes += text.size();
      tokens += tok->encode(text).size();
    }
    EXPECT_LT(static_cast<double>(tokens), 0.5 * static_cast<double>(bytes));
    EXPECT_EQ(round_trip(*tok, "  two  spaces\tand a tab ✓ 🎉\n"), "  two  spaces\tand a tab ✓ 🎉\n");
  }
}

TEST(sentencepiece_tokenizer, training_is_deterministic) {
  auto corpus = english_corpus();
  if (corpus.train.empty())
    GTEST_SKIP() << "fortunes not installed (run tools/setup/setup.sh)";
  for (auto model : {sentencepiece_model::bpe, sentencepiece_model::unigram}) {
    sentencepiece_options opts{model, 600, 0.9995, 800, 4096};
    auto a = sentencepiece_tokenizer::train(corpus.train, opts);
    auto b = sentencepiece_tokenizer::train(corpus.train, opts);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->serialize(), b->serialize()) << to_string(model);
  }
}

TEST(sentencepiece_tokenizer, chinese_round_trip_with_full_coverage) {
  auto poems = test_corpus::chinese_poems();
  if (poems.empty())
    GTEST_SKIP() << "fortunes-zh not installed (run tools/setup/setup.sh)";
  for (auto model : {sentencepiece_model::bpe, sentencepiece_model::unigram}) {
    // Full coverage puts every one of the ~2,600 characters in the vocabulary.
    auto tok =
        sentencepiece_tokenizer::train(poems, sentencepiece_options{model, 3200, 1.0, 5000, 4096});
    ASSERT_TRUE(tok) << llmos::describe(tok.error());
    for (const auto& p : poems)
      ASSERT_EQ(round_trip(*tok, p), p);
    // Identity normalization: the full-width comma stays a full-width comma.
    EXPECT_EQ(round_trip(*tok, "床前明月光，疑是地上霜。"), "床前明月光，疑是地上霜。");
  }
  // With coverage 0.98 (~2,000 characters) the rare ones fall back to bytes, and still
  // round-trip.
  auto small = sentencepiece_tokenizer::train(
      poems, sentencepiece_options{sentencepiece_model::bpe, 2400, 0.98, 5000, 4096});
  ASSERT_TRUE(small) << llmos::describe(small.error());
  for (const auto& p : poems)
    ASSERT_EQ(round_trip(*small, p), p);
}

TEST(sentencepiece_tokenizer, refusals_are_bad_config_errors) {
  auto poems = test_corpus::chinese_poems();
  const std::vector<std::string> none;
  const std::vector<std::string> empties{"", ""};
  EXPECT_FALSE(sentencepiece_tokenizer::train(none));
  EXPECT_FALSE(sentencepiece_tokenizer::train(empties));
  const std::vector<std::string> some{"a b c"};
  EXPECT_FALSE(sentencepiece_tokenizer::train(
      some, sentencepiece_options{sentencepiece_model::bpe, 10, 0.9995, 100, 4096}));
  EXPECT_FALSE(sentencepiece_tokenizer::train(
      some, sentencepiece_options{sentencepiece_model::bpe, 500, 1.5, 100, 4096}));
  EXPECT_FALSE(sentencepiece_tokenizer::train(
      some, sentencepiece_options{sentencepiece_model::bpe, 500, 0.9, 100, 4096}));
  if (!poems.empty()) {
    // Full coverage of ~2,600 characters does not fit in 1000 pieces: SentencePiece's reason
    // comes back instead of a crash.
    auto r = sentencepiece_tokenizer::train(
        poems, sentencepiece_options{sentencepiece_model::unigram, 1000, 1.0, 5000, 4096});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
    EXPECT_NE(llmos::describe(r.error()).find("vocab"), std::string::npos)
        << llmos::describe(r.error());
  }
}

TEST(sentencepiece_tokenizer, decode_refuses_ids_outside_the_vocabulary) {
  const std::vector<std::string> train{"hello world", "hello there"};
  auto tok = sentencepiece_tokenizer::train(
      train, sentencepiece_options{sentencepiece_model::bpe, 300, 1.0, 100, 4096});
  ASSERT_TRUE(tok) << llmos::describe(tok.error());
  EXPECT_FALSE(tok->decode(std::vector<int32_t>{tok->vocab_size()}));
  EXPECT_FALSE(tok->decode(std::vector<int32_t>{-5}));
  // Specials decode to nothing.
  const auto s = tok->specials();
  auto ids = tok->encode("hello");
  ids.insert(ids.begin(), s.bos);
  ids.push_back(s.eos);
  EXPECT_EQ(*tok->decode(ids), "hello");
}
