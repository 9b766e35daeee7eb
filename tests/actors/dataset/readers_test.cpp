// The dataset source readers on hand-made files: UTF-8 checks, ANSI stripping, the dispatch by
// kind, and the jsonl, maildir, fortunes and idx readers with the inputs that must be refused.
// (CSV has its own file; the real data sets are read in readers_real_data_test.cpp.)
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "dataset/readers/ansi.hpp"
#include "dataset/readers/utf8.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

using test::temp_folder;
using ::testing::HasSubstr;

const std::string replacement = "\xEF\xBF\xBD";

TEST(utf8, accepts_well_formed_text_and_refuses_each_kind_of_bad_sequence) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii\n"));
  EXPECT_TRUE(valid_utf8("\xE4\xB8\xAD\xE6\x96\x87 caf\xC3\xA9 \xF0\x9F\x98\x80")); // 中文 café 😀
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));                                      // U+10FFFF
  EXPECT_FALSE(valid_utf8("caf\xE9"));                                              // Latin-1
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));                                             // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));     // overlong, three bytes
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));     // UTF-16 surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80")); // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE4\xB8"));         // cut short at the end
  EXPECT_FALSE(valid_utf8("\x80"));             // lone continuation byte
  EXPECT_EQ(first_invalid_utf8("ab\xE4\xB8"
                               "c"),
            2u);
}

TEST(utf8, repair_replaces_each_bad_byte_and_keeps_good_text) {
  EXPECT_EQ(to_valid_utf8("caf\xE9!"), "caf" + replacement + "!");
  EXPECT_EQ(to_valid_utf8("\xE4\xB8x"), replacement + replacement + "x");
  const std::string good = "\xE4\xB8\xAD ok";
  EXPECT_EQ(to_valid_utf8(good), good);
  EXPECT_TRUE(valid_utf8(to_valid_utf8("\xFF\xFE\xC0\xAF\xED\xA0\x80")));
}

TEST(ansi, strips_colour_codes_and_keeps_everything_else) {
  EXPECT_EQ(strip_ansi("\x1B[32m\xE3\x80\x8A\x1B[m\n\x1B[35;1mtitle\x1B[;m end"),
            "\xE3\x80\x8A\ntitle end");
  EXPECT_EQ(strip_ansi("no codes [32m here"), "no codes [32m here");
  EXPECT_EQ(strip_ansi("cut \x1B[3"), "cut ");
  EXPECT_EQ(strip_ansi("lone \x1B"), "lone ");
}

TEST(read_source, an_unknown_kind_is_an_error_listing_the_known_ones) {
  quarantine q;
  auto n = read_source(source_spec{"s", "parquet", "/x", {}}, q, [](record&&) {});
  ASSERT_FALSE(n);
  EXPECT_THAT(describe(n.error()), HasSubstr("kind 'parquet' has no reader"));
  EXPECT_THAT(describe(n.error()), HasSubstr("csv, tsv, jsonl, maildir, fortunes, idx"));
}

TEST(read_source, limit_stops_every_text_kind_after_that_many_records) {
  temp_folder dir;
  auto csv = dir.write("a.csv", "text\na\nb\nc\n");
  auto jsonl = dir.write("a.jsonl", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n");
  dir.write("mail/x/1.txt", "1");
  dir.write("mail/x/2.txt", "2");
  dir.write("mail/y/3.txt", "3");
  dir.write("fortunes/a", "1\n%\n2\n");
  dir.write("fortunes/b", "3\n%\n4\n");
  for (auto [kind, path] :
       {std::pair{"csv", csv}, std::pair{"jsonl", jsonl}, std::pair{"maildir", dir.str() + "/mail"},
        std::pair{"fortunes", dir.str() + "/fortunes"}}) {
    auto all = read_all(source_spec{"s", kind, path, {}});
    ASSERT_TRUE(all.ok) << all.error;
    EXPECT_GE(all.count, 3u) << kind;
    auto two = read_all(source_spec{"s", kind, path, {{"limit", "2"}}});
    ASSERT_TRUE(two.ok) << two.error;
    EXPECT_EQ(two.count, 2u) << kind;
    ASSERT_EQ(two.records.size(), 2u) << kind;
    EXPECT_EQ(two.records[1].text, all.records[1].text) << kind;
    // The field and the option together: the smaller one wins.
    source_spec spec{"s", kind, path, {{"limit", "2"}}};
    spec.limit = 1;
    EXPECT_EQ(read_all(spec).count, 1u) << kind;
  }
  EXPECT_THAT(refusal_of(source_spec{"s", "csv", csv, {{"limit", "two"}}}),
              HasSubstr("option 'limit'"));
}

// --- jsonl ---

TEST(jsonl_reader, reads_objects_and_quarantines_bad_lines_with_their_line_number) {
  temp_folder dir;
  auto path =
      dir.write("d.jsonl", "\xEF\xBB\xBF{\"text\": \"hello\", \"label\": \"greet\", \"n\": 3}\r\n"
                           "\n"
                           "{\"text\": \"\xE4\xB8\xAD\", \"label\": 2, \"src\": \"zh\"}\n"
                           "{\"text\": \"broken\"\n"
                           "{\"label\": \"x\"}\n"
                           "{\"text\": 42, \"label\": \"x\"}\n"
                           "[\"text\"]\n"
                           "{\"text\": \"caf\xE9\", \"label\": \"x\"}\n"
                           "{\"text\": \"ok\", \"label\": [1]}\n"
                           "{\"text\": \"last\", \"label\": \"end\"}");
  auto res = read_all(source_spec{"j", "jsonl", path, {{"label_field", "label"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 3u);
  EXPECT_EQ(res.records[0].text, "hello");
  EXPECT_EQ(res.records[0].label, "greet");
  EXPECT_EQ(res.records[0].meta.at("n"), "3");
  EXPECT_EQ(res.records[0].origin.line, 1u);
  EXPECT_EQ(res.records[1].text, "\xE4\xB8\xAD");
  EXPECT_EQ(res.records[1].label, "2");
  EXPECT_EQ(res.records[1].meta.at("src"), "zh");
  EXPECT_EQ(res.records[1].origin.to_string(), path + ":3");
  EXPECT_EQ(res.records[2].origin.line, 10u);
  EXPECT_EQ(res.refused_count("jsonl_reader"), 6u);
  auto refused = res.refused("jsonl_reader");
  ASSERT_EQ(refused.size(), 5u); // the quarantine keeps five examples per rule
  EXPECT_EQ(refused[0].origin.line, 4u);
  EXPECT_THAT(refused[0].reason, HasSubstr("not valid JSON"));
  EXPECT_EQ(refused[0].text, "{\"text\": \"broken\"");
  EXPECT_EQ(refused[1].origin.line, 5u);
  EXPECT_THAT(refused[1].reason, HasSubstr("no field 'text'"));
  EXPECT_THAT(refused[2].reason, HasSubstr("'text' is number, not a string"));
  EXPECT_THAT(refused[3].reason, HasSubstr("JSON object"));
  EXPECT_EQ(refused[4].origin.line, 8u);
  EXPECT_THAT(refused[4].reason, HasSubstr("invalid UTF-8"));
}

TEST(jsonl_reader, field_options_and_errors) {
  temp_folder dir;
  auto path = dir.write("d.jsonl", "{\"body\": \"b\", \"y\": \"l\"}\n{\"body\": \"c\"}\n");
  auto res = read_all(source_spec{"j", "jsonl", path, {{"text_field", "body"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 2u);
  EXPECT_EQ(res.records[0].label, "");
  EXPECT_EQ(res.records[0].meta.at("y"), "l");
  res = read_all(source_spec{"j", "jsonl", path, {{"text_field", "body"}, {"label_field", "y"}}});
  EXPECT_EQ(res.count, 1u);
  EXPECT_THAT(res.refused("jsonl_reader").at(0).reason, HasSubstr("no field 'y'"));
  EXPECT_THAT(refusal_of(source_spec{"j", "jsonl", dir.str() + "/missing.jsonl", {}}),
              HasSubstr("missing.jsonl"));
}

// --- maildir ---

TEST(maildir_reader, labels_from_folders_through_the_map_sorted_and_repairs_latin1) {
  temp_folder dir;
  dir.write("spam-2/b.txt", "Subject: buy\n\nnow");
  dir.write("spam-1/a.txt", "Subject: win\n\ncaf\xE9");
  dir.write("easy-ham-1/c.txt", "Subject: hi\n\n\xE4\xB8\xAD");
  dir.write("easy-ham-1/c.json", "{}");
  dir.write("easy-ham-1/.hidden.txt", "x");
  auto spec = source_spec{
      "mail",
      "maildir",
      dir.str(),
      {{"label_map", "spam-1=spam, spam-2=spam,easy-ham-1=ham"}, {"extension", ".txt"}}};
  auto res = read_all(spec);
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 3u);
  EXPECT_EQ(res.records[0].meta.at("file"), "easy-ham-1/c.txt");
  EXPECT_EQ(res.records[0].label, "ham");
  EXPECT_EQ(res.records[0].text, "Subject: hi\n\n\xE4\xB8\xAD");
  EXPECT_FALSE(res.records[0].meta.contains("utf8_repaired"));
  EXPECT_EQ(res.records[1].label, "spam");
  EXPECT_EQ(res.records[1].text, "Subject: win\n\ncaf" + replacement);
  EXPECT_EQ(res.records[1].meta.at("utf8_repaired"), "true");
  EXPECT_EQ(res.records[1].meta.at("folder"), "spam-1");
  EXPECT_EQ(res.records[1].id, "mail/spam-1/a.txt");
  EXPECT_EQ(res.records[2].origin.path, dir.str() + "/spam-2/b.txt");
  EXPECT_EQ(res.records[2].origin.index, 2u);
  // Without the map the folder name is the label; without the filter the .json comes too.
  spec.options = {};
  res = read_all(spec);
  ASSERT_EQ(res.count, 4u);
  EXPECT_EQ(res.records[0].label, "easy-ham-1");
  EXPECT_EQ(res.records[0].meta.at("file"), "easy-ham-1/c.json");
}

TEST(maildir_reader, a_folder_missing_from_the_map_or_a_bad_path_is_an_error) {
  temp_folder dir;
  dir.write("spam/a.txt", "x");
  dir.write("other/b.txt", "y");
  auto res = read_all(source_spec{"m", "maildir", dir.str(), {{"label_map", "spam=spam"}}});
  EXPECT_FALSE(res.ok);
  EXPECT_THAT(res.error, HasSubstr("no entry for folder 'other'"));
  EXPECT_TRUE(res.records.empty());
  EXPECT_THAT(refusal_of(source_spec{"m", "maildir", dir.str(), {{"label_map", "spam"}}}),
              HasSubstr("not folder=label"));
  EXPECT_THAT(refusal_of(source_spec{"m", "maildir", dir.str() + "/spam/a.txt", {}}),
              HasSubstr("is not a folder"));
  EXPECT_THAT(refusal_of(source_spec{"m", "maildir", dir.str(), {{"label_from", "grandparent"}}}),
              HasSubstr("label_from"));
}

TEST(maildir_reader, unreadable_or_oversized_files_go_to_quarantine_and_the_rest_is_read) {
  temp_folder dir;
  dir.write("ham/a.txt", "a");
  // Sparse: 40 MiB on paper, nothing on disk, so the size check is what refuses it.
  auto huge = dir.write("ham/b.txt", "");
  std::filesystem::resize_file(huge, 40u << 20);
  dir.write("ham/c.txt", "c");
  auto locked = dir.write("ham/d.txt", "d");
  std::filesystem::permissions(locked, std::filesystem::perms::none);
  // root reads files without read permission, so only the size case is certain there.
  const uint64_t unreadable = ::geteuid() == 0 ? 1 : 2;
  auto res = read_all(source_spec{"m", "maildir", dir.str(), {}});
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 4u - unreadable);
  ASSERT_EQ(res.refused_count("maildir_reader"), unreadable);
  auto refused = res.refused("maildir_reader");
  EXPECT_EQ(refused[0].origin.path, huge);
  EXPECT_THAT(refused[0].reason, HasSubstr("more than the"));
  if (unreadable == 2) {
    EXPECT_EQ(refused[1].origin.path, locked);
  }
  EXPECT_EQ(res.records.front().text, "a");
  EXPECT_EQ(res.records.at(1).text, "c");
}

// --- fortunes ---

TEST(fortunes_reader, splits_on_percent_lines_with_first_line_locations) {
  temp_folder dir;
  auto path = dir.write("f/wisdom", "%\nFirst entry\n  -- someone\n%\n%\n\nSecond\n\n%\r\n"
                                    "\xE4\xB8\xAD\xE6\x96\x87 entry\n%\nbad \xE9\n%\nlast");
  dir.write("f/wisdom.dat", "binary");
  dir.write("f/wisdom.u8", "%\nnot me\n");
  dir.write("f/tao", "Way\n");
  auto res = read_all(source_spec{"q", "fortunes", path, {}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 4u);
  EXPECT_EQ(res.records[0].text, "First entry\n  -- someone");
  EXPECT_EQ(res.records[0].origin.to_string(), path + ":2");
  EXPECT_EQ(res.records[0].label, "wisdom");
  EXPECT_EQ(res.records[1].text, "Second");
  EXPECT_EQ(res.records[1].origin.line, 7u);
  EXPECT_EQ(res.records[2].text, "\xE4\xB8\xAD\xE6\x96\x87 entry");
  EXPECT_EQ(res.records[2].origin.line, 10u);
  EXPECT_EQ(res.records[3].text, "last");
  EXPECT_EQ(res.records[3].origin.line, 14u);
  ASSERT_EQ(res.refused_count("fortunes_reader"), 1u);
  EXPECT_EQ(res.refused("fortunes_reader")[0].origin.line, 12u);
  // A folder reads every file without an extension, in name order; label overrides.
  res = read_all(source_spec{"q", "fortunes", dir.str() + "/f", {{"label", "quote"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 5u);
  EXPECT_EQ(res.records[0].text, "Way");
  for (const auto& r : res.records)
    EXPECT_EQ(r.label, "quote");
}

TEST(fortunes_reader, strip_ansi_removes_colour_codes_byte_exact_otherwise) {
  temp_folder dir;
  const std::string poem = "\x1B[32m\xE3\x80\x8A\xE9\x9D\x99\xE5\xA4\x9C\xE6\x80\x9D\xE3\x80\x8B"
                           "\x1B[m\n\x1B[33m\xE6\x9D\x8E\xE7\x99\xBD\x1B[m\n"
                           "\xE5\xBA\x8A\xE5\x89\x8D\xE6\x98\x8E\xE6\x9C\x88\xE5\x85\x89";
  auto path = dir.write("tang300", poem + "\n%\n");
  auto res = read_all(source_spec{"zh", "fortunes", path, {{"strip_ansi", "true"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 1u);
  EXPECT_EQ(res.records[0].text, "\xE3\x80\x8A\xE9\x9D\x99\xE5\xA4\x9C\xE6\x80\x9D\xE3\x80\x8B\n"
                                 "\xE6\x9D\x8E\xE7\x99\xBD\n"
                                 "\xE5\xBA\x8A\xE5\x89\x8D\xE6\x98\x8E\xE6\x9C\x88\xE5\x85\x89");
  res = read_all(source_spec{"zh", "fortunes", path, {}});
  EXPECT_EQ(res.records.at(0).text, poem);
  EXPECT_THAT(refusal_of(source_spec{"zh", "fortunes", path, {{"strip_ansi", "maybe"}}}),
              HasSubstr("not a boolean"));
  EXPECT_THAT(refusal_of(source_spec{"zh", "fortunes", dir.str() + "/none", {}}),
              HasSubstr("none: source 'zh' (fortunes): no such file"));
}

// --- idx ---

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(f);
}

/// Three 2x3 images with pixels i*10+k and labels 7, 0, 9.
struct idx_fixture {
  std::string images = be32(0x803) + be32(3) + be32(2) + be32(3);
  std::string labels = be32(0x801) + be32(3) + std::string{"\x07\x00\x09", 3};
  idx_fixture() {
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 6; ++k)
        images += static_cast<char>(i * 10 + k);
  }
};

source_spec idx_spec(const temp_folder& dir, std::map<std::string, std::string> extra = {}) {
  extra.emplace("images", "img.gz");
  extra.emplace("labels", "lab.gz");
  return source_spec{"fm", "idx", dir.str(), std::move(extra)};
}

TEST(idx_reader, reads_images_with_labels_and_honours_limit) {
  temp_folder dir;
  idx_fixture fx;
  write_gz(dir.str() + "/img.gz", fx.images);
  write_gz(dir.str() + "/lab.gz", fx.labels);
  auto res = read_all(idx_spec(dir));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.count, 3u);
  EXPECT_EQ(res.records[1].rows, 2u);
  EXPECT_EQ(res.records[1].cols, 3u);
  EXPECT_EQ(res.records[1].image, std::string("\x0A\x0B\x0C\x0D\x0E\x0F"));
  EXPECT_EQ(res.records[0].label, "7");
  EXPECT_EQ(res.records[1].label, "0");
  EXPECT_EQ(res.records[2].label, "9");
  EXPECT_EQ(res.records[2].origin.index, 2u);
  EXPECT_EQ(res.records[2].id, "fm#2");
  EXPECT_TRUE(res.records[2].text.empty());
  res = read_all(idx_spec(dir, {{"limit", "2"}}));
  EXPECT_EQ(res.count, 2u);
  // zlib reads a plain, uncompressed IDX file as well.
  dir.write("img.raw", fx.images);
  dir.write("lab.raw", fx.labels);
  res = read_all(idx_spec(dir, {{"images", "img.raw"}, {"labels", "lab.raw"}}));
  EXPECT_EQ(res.count, 3u);
}

TEST(idx_reader, bad_magic_mismatched_counts_and_truncation_are_errors_naming_the_file) {
  temp_folder dir;
  idx_fixture fx;
  write_gz(dir.str() + "/img.gz", fx.images);
  write_gz(dir.str() + "/lab.gz", fx.labels);
  // Images and labels swapped: the magic number says so.
  auto res = read_all(idx_spec(dir, {{"images", "lab.gz"}, {"labels", "img.gz"}}));
  EXPECT_FALSE(res.ok);
  EXPECT_THAT(res.error, HasSubstr("lab.gz"));
  EXPECT_THAT(res.error, HasSubstr("magic number 0x00000801 is not 0x00000803"));
  write_gz(dir.str() + "/lab4.gz", be32(0x801) + be32(4) + std::string(4, '\1'));
  res = read_all(idx_spec(dir, {{"labels", "lab4.gz"}}));
  EXPECT_THAT(res.error, HasSubstr("img.gz and " + dir.str() + "/lab4.gz"));
  EXPECT_THAT(res.error, HasSubstr("3 images but 4 labels"));
  write_gz(dir.str() + "/short.gz", fx.images.substr(0, fx.images.size() - 4));
  res = read_all(idx_spec(dir, {{"images", "short.gz"}}));
  EXPECT_THAT(res.error, HasSubstr("short.gz"));
  EXPECT_THAT(res.error, HasSubstr("truncated at image index 2"));
  EXPECT_EQ(res.records.size(), 2u); // what came before the break was already streamed
  // A gzip stream cut off mid-way, as a broken download leaves it.
  write_gz(dir.str() + "/full.gz", fx.images + std::string(6000, '\x55'));
  std::filesystem::resize_file(dir.str() + "/full.gz", 30);
  res = read_all(idx_spec(dir, {{"images", "full.gz"}}));
  EXPECT_FALSE(res.ok);
  EXPECT_THAT(res.error, HasSubstr("full.gz"));
  EXPECT_THAT(res.error, HasSubstr("truncated"));
  write_gz(dir.str() + "/zero.gz", be32(0x803) + be32(1) + be32(0) + be32(28));
  EXPECT_THAT(refusal_of(idx_spec(dir, {{"images", "zero.gz"}})), HasSubstr("not plausible"));
  EXPECT_THAT(refusal_of(idx_spec(dir, {{"limit", "-1"}})),
              HasSubstr("not a non-negative integer"));
  EXPECT_THAT(refusal_of(source_spec{"fm", "idx", dir.str(), {{"labels", "lab.gz"}}}),
              HasSubstr("option 'images' is missing"));
  EXPECT_THAT(refusal_of(idx_spec(dir, {{"images", "absent.gz"}})), HasSubstr("absent.gz"));
}

} // namespace
} // namespace llmos::dataset
