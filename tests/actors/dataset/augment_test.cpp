// Augmentation: the MyThes thesaurus and stop-word loaders (real files from the setup cache,
// skipped with a message when absent), EDA's guarantees (determinism per seed and independent of
// record order, stop words never replaced nor used for insertion, synonyms only from the
// thesaurus, deletion keeps a word), the marking of copies, the training-split-only contract,
// and image flips and shifts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "dataset/augment/augmenter.hpp"
#include "dataset/augment/eda.hpp"
#include "dataset/augment/image_augment.hpp"
#include "dataset/data_dir.hpp"
#include "llmos/messages/error.hpp"

using namespace llmos::dataset;

namespace {

// Loaded once per test binary: the real thesaurus takes a noticeable fraction of a second.
std::shared_ptr<const thesaurus> real_thesaurus() {
  static const auto th = []() -> std::shared_ptr<const thesaurus> {
    auto t = thesaurus::load_default();
    return t ? std::make_shared<const thesaurus>(std::move(*t)) : nullptr;
  }();
  return th;
}

std::shared_ptr<const stop_words> real_stop_words() {
  static const auto sw = []() -> std::shared_ptr<const stop_words> {
    auto s = stop_words::load_default("en");
    return s ? std::make_shared<const stop_words>(std::move(*s)) : nullptr;
  }();
  return sw;
}

#define REQUIRE_REAL_DATA()                                                                        \
  if (!real_thesaurus() || !real_stop_words())                                                     \
  GTEST_SKIP() << "thesaurus or stop words not found under " << data_dir()                         \
               << "; run tools/setup/setup.sh to install mythes-en-us and stopwords-iso"

record text_record(std::string id, std::string text, std::string label = "spam") {
  record r;
  r.id = std::move(id);
  r.text = std::move(text);
  r.label = std::move(label);
  r.origin.source = "mail";
  r.origin.path = "mail.csv";
  r.origin.line = 7;
  return r;
}

const std::vector<std::string> sentences{
    "The quick brown fox jumps over the lazy dog near the quiet river bank.",
    "Congratulations! You have won a free holiday; call our office today to claim the prize.",
    "Please review the attached report before the meeting on Thursday afternoon.",
    "This happy child found a large shiny stone while walking along the beach."};

std::vector<record> sentence_records() {
  std::vector<record> rs;
  for (std::size_t i = 0; i < sentences.size(); ++i)
    rs.push_back(text_record("s" + std::to_string(i), sentences[i]));
  return rs;
}

augment_options only(eda_operation op, uint32_t copies, double rate, uint64_t seed) {
  augment_options o;
  o.copies = copies;
  o.rate = rate;
  o.seed = seed;
  o.synonym_replacement = op == eda_operation::synonym_replacement;
  o.random_insertion = op == eda_operation::random_insertion;
  o.random_swap = op == eda_operation::random_swap;
  o.random_deletion = op == eda_operation::random_deletion;
  return o;
}

augmenter make_augmenter(augment_options o, std::shared_ptr<const thesaurus> th = real_thesaurus(),
                         std::shared_ptr<const stop_words> sw = real_stop_words()) {
  auto a = augmenter::make(o, std::move(th), std::move(sw));
  EXPECT_TRUE(a) << llmos::describe(a.error());
  return std::move(*a);
}

} // namespace

TEST(thesaurus, real_file_maps_words_to_single_word_synonyms) {
  REQUIRE_REAL_DATA();
  const auto& th = *real_thesaurus();
  EXPECT_GT(th.size(), 50000u);
  const auto& happy = th.synonyms("Happy");
  auto has = [&](const std::string& w) {
    return std::find(happy.begin(), happy.end(), w) != happy.end();
  };
  EXPECT_TRUE(has("glad"));
  EXPECT_TRUE(has("blessed"));  // "(similar term)" stripped
  EXPECT_FALSE(has("unhappy")); // antonym dropped
  for (const auto& s : happy)
    EXPECT_EQ(s.find_first_of(" ()"), std::string::npos) << s;
  EXPECT_TRUE(th.synonyms("no-such-word-xyz").empty());
}

TEST(thesaurus, reads_latin1_files_and_drops_antonyms_and_phrases) {
  auto path = std::filesystem::temp_directory_path() / "llmos_th_latin1_test.dat";
  {
    std::ofstream out{path, std::ios::binary};
    out << "ISO8859-1\n"
        << "caf\xe9|2\n"
        << "(noun)|coffeehouse|coffee shop|bistro (generic term)|tea (antonym)\n"
        << "(noun)|Caf\xe9|coffeehouse\n"
        << "ice cream|1\n(noun)|gelato\n";
  }
  auto th = thesaurus::load(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(th) << llmos::describe(th.error());
  EXPECT_EQ(th->synonyms("CAF\xc3\xa9"), (std::vector<std::string>{"coffeehouse", "bistro"}));
  EXPECT_TRUE(th->synonyms("ice cream").empty());
  EXPECT_EQ(th->size(), 1u);
}

TEST(thesaurus, missing_file_is_io_failed_naming_path_and_setup) {
  auto th = thesaurus::load("/nonexistent/th_en_US_v2.dat");
  ASSERT_FALSE(th);
  EXPECT_EQ(th.error().code(), static_cast<uint8_t>(llmos::error_code::io_failed));
  auto msg = llmos::describe(th.error());
  EXPECT_NE(msg.find("/nonexistent/th_en_US_v2.dat"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tools/setup/setup.sh"), std::string::npos) << msg;
}

TEST(stop_words, real_english_list) {
  REQUIRE_REAL_DATA();
  EXPECT_GT(real_stop_words()->size(), 1000u);
  EXPECT_TRUE(real_stop_words()->contains("The"));
  EXPECT_FALSE(real_stop_words()->contains("thesaurus"));
}

TEST(eda, same_seed_same_output_different_seed_different_output_any_order) {
  REQUIRE_REAL_DATA();
  augment_options o;
  o.copies = 4;
  o.rate = 0.2;
  o.seed = 42;
  auto first = make_augmenter(o).augment(sentence_records());
  auto again = make_augmenter(o).augment(sentence_records());
  ASSERT_EQ(first.records.size(), again.records.size());
  for (std::size_t i = 0; i < first.records.size(); ++i) {
    EXPECT_EQ(first.records[i].id, again.records[i].id);
    EXPECT_EQ(first.records[i].text, again.records[i].text);
  }
  auto reversed_input = sentence_records();
  std::reverse(reversed_input.begin(), reversed_input.end());
  auto reversed = make_augmenter(o).augment(reversed_input);
  ASSERT_EQ(reversed.records.size(), first.records.size());
  for (const auto& r : reversed.records) {
    auto it = std::find_if(first.records.begin(), first.records.end(),
                           [&](const record& x) { return x.id == r.id; });
    ASSERT_NE(it, first.records.end()) << r.id;
    EXPECT_EQ(it->text, r.text) << r.id;
  }
  o.seed = 43;
  auto other = make_augmenter(o).augment(sentence_records());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < std::min(other.records.size(), first.records.size()); ++i)
    differing += other.records[i].text != first.records[i].text;
  EXPECT_GT(differing, first.records.size() / 2);
}

TEST(eda, synonym_replacement_uses_thesaurus_synonyms_and_never_replaces_stop_words) {
  REQUIRE_REAL_DATA();
  const eda ops{*real_thesaurus(), *real_stop_words()};
  auto result = make_augmenter(only(eda_operation::synonym_replacement, 8, 0.5, 7))
                    .augment(sentence_records());
  ASSERT_FALSE(result.records.empty());
  std::size_t replaced = 0;
  for (const auto& r : result.records) {
    const auto& source = sentences.at(std::stoul(r.meta.at("augmented_from").substr(1)));
    auto in = split_words(source);
    auto out = split_words(r.text);
    ASSERT_EQ(in.size(), out.size()) << r.text;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == out[i])
        continue;
      ++replaced;
      EXPECT_FALSE(ops.is_stop_word(in[i])) << "stop word '" << in[i] << "' replaced in " << r.text;
      const auto& syns = real_thesaurus()->synonyms(token_core(in[i]));
      auto core = ascii_lower(token_core(out[i]));
      EXPECT_TRUE(std::any_of(syns.begin(), syns.end(),
                              [&](const std::string& s) { return ascii_lower(s) == core; }))
          << "'" << out[i] << "' is no thesaurus synonym of '" << in[i] << "'";
    }
  }
  EXPECT_GT(replaced, result.records.size()); // rate 0.5: several words per copy
}

TEST(eda, insertion_never_draws_from_stop_words) {
  auto th = std::make_shared<const thesaurus>(
      thesaurus::from_entries({{"quick", {"fast"}}, {"the", {"thee"}}}));
  auto sw = std::make_shared<const stop_words>(stop_words::from_words({"the"}));
  for (uint64_t seed = 0; seed < 50; ++seed) {
    auto out = make_augmenter(only(eda_operation::random_insertion, 2, 0.3, seed), th, sw)
                   .augment({text_record("a", "the quick fox the end")});
    for (const auto& r : out.records) {
      auto words = split_words(r.text);
      EXPECT_EQ(std::count(words.begin(), words.end(), "thee"), 0) << r.text;
      EXPECT_EQ(std::count(words.begin(), words.end(), "fast"), 1) << r.text;
    }
  }
}

TEST(eda, deletion_keeps_at_least_one_word) {
  std::mt19937_64 rng{1};
  std::vector<std::string> words{"a", "b", "c", "d", "e"};
  eda::random_deletion(words, 1.0, rng);
  EXPECT_EQ(words.size(), 1u);
  std::vector<std::string> one{"alone"};
  eda::random_deletion(one, 1.0, rng);
  EXPECT_EQ(one, std::vector<std::string>{"alone"});
}

TEST(eda, swap_keeps_the_words) {
  std::mt19937_64 rng{3};
  std::vector<std::string> words{"a", "b", "c", "d"};
  eda::random_swap(words, 3, rng);
  auto sorted = words;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(augmenter, copies_are_counted_and_marked) {
  REQUIRE_REAL_DATA();
  augment_options o;
  o.copies = 3;
  o.rate = 0.2;
  auto train = sentence_records();
  auto result = make_augmenter(o).augment(train);
  EXPECT_EQ(result.sources, train.size());
  EXPECT_EQ(result.unchanged, 0u);
  ASSERT_EQ(result.records.size(), 3 * train.size());
  for (std::size_t i = 0; i < result.records.size(); ++i) {
    const auto& r = result.records[i];
    const auto& src = train[i / 3];
    EXPECT_EQ(r.id, src.id + "#aug" + std::to_string(i % 3 + 1));
    EXPECT_TRUE(r.augmented);
    EXPECT_EQ(r.meta.at("augmented_from"), src.id);
    EXPECT_EQ(r.label, src.label);
    EXPECT_EQ(r.origin.to_string(), "mail.csv:7");
    EXPECT_NE(r.text, src.text);
  }
  EXPECT_FALSE(train[0].augmented); // sources untouched
}

TEST(augmenter, only_the_training_split_is_augmented) {
  EXPECT_TRUE(may_augment("train"));
  EXPECT_FALSE(may_augment("validation"));
  EXPECT_FALSE(may_augment("test"));
  auto a = make_augmenter(only(eda_operation::random_swap, 2, 0.2, 1), nullptr, nullptr);
  auto test_record = text_record("t", "one two three four");
  test_record.meta["split"] = "test";
  auto already = text_record("a#aug1", "one two three four");
  already.augmented = true;
  auto result = a.augment({test_record, already, text_record("e", "")});
  EXPECT_TRUE(result.records.empty());
  EXPECT_EQ(result.skipped, 3u);
}

TEST(augmenter, refuses_bad_options) {
  augment_options o;
  o.rate = 1.5;
  EXPECT_FALSE(augmenter::make(o, real_thesaurus(), real_stop_words()));
  auto no_thesaurus = augmenter::make(augment_options{}, nullptr, nullptr);
  ASSERT_FALSE(no_thesaurus);
  EXPECT_NE(llmos::describe(no_thesaurus.error()).find("setup.sh"), std::string::npos);
}

namespace {

// 3 × 4 image with distinct pixel values 1..12.
std::string small_image() {
  std::string px;
  for (char v = 1; v <= 12; ++v)
    px += v;
  return px;
}

} // namespace

TEST(image_augment, flip_twice_is_identity) {
  auto px = small_image();
  auto once = flip_horizontal(px, 3, 4);
  EXPECT_EQ(once.substr(0, 4), std::string({4, 3, 2, 1}));
  EXPECT_EQ(flip_horizontal(once, 3, 4), px);
}

TEST(image_augment, shift_moves_pixels_and_fills_zero) {
  auto px = small_image();
  // One right, one down: row 0 and column 0 become 0, (1,1) takes (0,0).
  auto s = shift_image(px, 3, 4, 1, 1);
  EXPECT_EQ(s, std::string({0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7}));
  auto back = shift_image(px, 3, 4, -2, 0);
  EXPECT_EQ(back, std::string({3, 4, 0, 0, 7, 8, 0, 0, 11, 12, 0, 0}));
  EXPECT_EQ(shift_image(px, 3, 4, 5, 0), std::string(12, '\0'));
  EXPECT_EQ(shift_image("short", 3, 4, 1, 1), "short"); // wrong size: unchanged
}

TEST(augmenter, image_copies_are_marked_and_bad_sizes_skipped) {
  augment_options o;
  o.copies = 4;
  o.synonym_replacement = o.random_insertion = false;
  auto a = make_augmenter(o, nullptr, nullptr);
  record img;
  img.id = "img7";
  img.rows = 3;
  img.cols = 4;
  img.image = small_image();
  img.label = "shirt";
  record broken = img;
  broken.id = "broken";
  broken.image = "xyz";
  auto result = a.augment({img, broken});
  EXPECT_EQ(result.skipped, 1u);
  ASSERT_EQ(result.records.size(), 4u);
  for (const auto& r : result.records) {
    EXPECT_TRUE(r.augmented);
    EXPECT_EQ(r.meta.at("augmented_from"), "img7");
    EXPECT_EQ(r.image.size(), img.image.size());
    EXPECT_NE(r.image, img.image);
    EXPECT_EQ(r.label, "shirt");
  }
}
