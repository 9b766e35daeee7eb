// Incremental ingest end to end (pipeline_runner with `incremental: true`) over a SQLite table
// with a cursor column and a JSON Lines file read whole: the second ingest reads only the rows
// past the cursor, skips the stored ids of the file, quarantines the new records that repeat
// stored ones (exactly or nearly), keeps the stored tokenizer, links the stored shards instead of
// writing them, keeps the quarantine of the first run, and holds the same records as a full
// ingest of the same data; an ingest with nothing new keeps the current version; a changed
// pipeline file makes a full run.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "dataset/clean/stored_keys.hpp"
#include "dataset/pipeline_runner.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/store/dataset_store.hpp"
#include "llmos/messages/error.hpp"
#include "pipeline_test_util.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

namespace fs = std::filesystem;
using test::temp_folder;

/// A review of 24 words drawn from a small vocabulary: two of them share few shingles.
std::string review(std::mt19937& rng) {
  static const char* words[] = {
      "battery", "screen",  "loud",   "quiet",   "bright", "cheap",  "sturdy", "broken",
      "charger", "cable",   "fast",   "slow",    "warm",   "heavy",  "light",  "glossy",
      "matte",   "crisp",   "muddy",  "tiny",    "huge",   "refund", "gift",   "daily",
      "travel",  "kitchen", "garden", "office",  "rain",   "summer", "winter", "button",
      "hinge",   "strap",   "lens",   "speaker", "manual", "smell",  "colour", "texture"};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(words) - 1);
  std::string text;
  for (int i = 0; i < 24; ++i)
    text += std::string{i == 0 ? "" : " "} + words[pick(rng)];
  return text;
}

void run_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string sql_text(const std::string& s) {
  return "'" + s + "'";
}

class incremental_ingest_test : public ::testing::Test {
protected:
  void SetUp() override {
    db_ = dir_.str() + "/shop.db";
    std::string sql = "CREATE TABLE reviews (id INTEGER PRIMARY KEY, body TEXT, stars TEXT);";
    for (int id = 1; id <= 40; ++id) {
      texts_[id] = review(rng_);
      sql += "INSERT INTO reviews VALUES (" + std::to_string(id) + ", " + sql_text(texts_[id]) +
             ", " + sql_text(id % 2 == 0 ? "good" : "bad") + ");";
    }
    sql += "INSERT INTO reviews VALUES (41, NULL, 'bad');"; // refused by the reader
    run_sql(db_, sql);
    std::ofstream notes{dir_.str() + "/notes.jsonl"};
    for (int i = 0; i < 10; ++i)
      notes << R"({"text": ")" << review(rng_) << R"(", "label": "good"})"
            << "\n";
  }

  pipeline_spec spec(const std::string& root, bool incremental, int shard_records = 8) {
    const auto text = "dataset: reviews\nroot: " + root +
                      "\nincremental: " + (incremental ? "true" : "false") +
                      "\nsources:\n"
                      "  - name: shop\n    kind: sqlite\n    path: " +
                      db_ +
                      "\n    options: {table: reviews, text_column: body, label_column: stars, "
                      "id_column: id, cursor_column: id}\n"
                      "  - name: notes\n    kind: jsonl\n    path: " +
                      dir_.str() +
                      "/notes.jsonl\n    options: {label_field: label}\n"
                      "clean:\n  - rule: normalise\n  - rule: exact_dedupe\n"
                      "  - rule: near_dedupe\n"
                      "split: {train: 0.8, validation: 0.1, test: 0.1, seed: 3}\n"
                      "tokenizer: {kind: char, vocab_size: 60}\nshard_records: " +
                      std::to_string(shard_records) + "\n";
    auto parsed = parse_pipeline(text, dir_.str() + "/reviews.yaml");
    EXPECT_TRUE(parsed) << describe(parsed.error());
    return parsed ? *parsed : pipeline_spec{};
  }

  /// The ids of every record of a version.
  std::multiset<std::string> ids_of(const std::string& root, const version_info& v) {
    std::multiset<std::string> out;
    auto store = dataset_store::open(root);
    for (const auto& shard : v.shards) {
      auto reader = store->open_shard(v, shard.file);
      EXPECT_TRUE(reader) << describe(reader.error());
      if (reader)
        for (const auto& row : reader->rows())
          out.emplace(row.id);
    }
    return out;
  }

  /// New rows past the cursor: a copy of review 3 in other case and punctuation, review 5 with
  /// one word more, three new reviews; and one new line in the file.
  void new_data_arrives() {
    std::string upper = texts_[3];
    for (auto& c : upper)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string sql = "INSERT INTO reviews VALUES (42, " + sql_text(upper + "!!") + ", 'bad');" +
                      "INSERT INTO reviews VALUES (43, " + sql_text(texts_[5] + " indeed") +
                      ", 'bad');";
    for (int id = 44; id <= 46; ++id)
      sql += "INSERT INTO reviews VALUES (" + std::to_string(id) + ", " + sql_text(review(rng_)) +
             ", 'good');";
    run_sql(db_, sql);
    std::ofstream{dir_.str() + "/notes.jsonl", std::ios::app} << R"({"text": ")" << review(rng_)
                                                              << R"(", "label": "bad"})"
                                                              << "\n";
  }

  temp_folder dir_;
  std::string db_;
  std::mt19937 rng_{7};
  std::map<int, std::string> texts_;
};

TEST_F(incremental_ingest_test, the_second_ingest_reads_only_what_is_new_and_links_the_rest) {
  const auto root = dir_.str() + "/store";
  const auto s = spec(root, true);
  auto first = run_ok(s);
  EXPECT_EQ(first.records, 50u);
  EXPECT_EQ(first.report["incremental"]["full_run_because"],
            "the data set has no current version yet");
  EXPECT_EQ(first.version.manifest["sources"][0]["cursor"]["last"], "41");

  new_data_arrives();
  auto second = run_ok(s);
  ASSERT_NE(second.version.version, first.version.version);
  const auto& inc = second.report["incremental"];
  EXPECT_EQ(inc["extends"], first.version.version);
  EXPECT_EQ(inc["already_stored"], 10u) << "the file's stored lines are skipped";
  EXPECT_EQ(inc["new_records"], 6u) << "5 rows past the cursor and 1 new line";
  EXPECT_EQ(second.records, 4u) << "two of them repeat stored reviews";
  EXPECT_EQ(second.removed["exact_dedupe"], 1u);
  EXPECT_EQ(second.removed["near_dedupe"], 1u);
  EXPECT_EQ(second.version.manifest["sources"][0]["cursor"]["after"], "41");
  EXPECT_EQ(second.version.manifest["sources"][0]["cursor"]["last"], "46");
  EXPECT_EQ(second.version.manifest["records"], 54u);
  EXPECT_EQ(second.version.manifest["tokenizer"], first.version.manifest["tokenizer"]);
  const auto& lineage = second.version.manifest["lineage"];
  EXPECT_EQ(lineage["parent"], first.version.version);
  EXPECT_EQ(lineage["reused_shards"], first.version.shards.size());
  // The stored shards are the same files, not copies.
  for (const auto& shard : first.version.shards)
    EXPECT_TRUE(fs::equivalent(fs::path{first.version.path} / shard.file,
                               fs::path{second.version.path} / shard.file))
        << shard.file;
  // The quarantine keeps the first run's refusal beside this run's.
  auto q = quarantine::read(s.quarantine);
  ASSERT_TRUE(q) << describe(q.error());
  std::multiset<std::string> rules;
  for (const auto& e : *q)
    rules.insert(e.rule);
  EXPECT_EQ(rules.count("sqlite_reader"), 1u);
  EXPECT_EQ(rules.count("exact_dedupe"), 1u);
  EXPECT_EQ(rules.count("near_dedupe"), 1u);

  // A full ingest of the same data in another store holds the same records.
  const auto full_root = dir_.str() + "/full";
  auto full = run_ok(spec(full_root, false));
  EXPECT_EQ(ids_of(root, second.version), ids_of(full_root, full.version));

  // Nothing new: the current version stays.
  auto third = run_ok(s);
  EXPECT_EQ(third.version.version, second.version.version);
  EXPECT_EQ(third.report["incremental"]["new_records"], 0u);
}

TEST_F(incremental_ingest_test, a_version_without_keys_files_is_hashed_from_its_shards) {
  const auto root = dir_.str() + "/store";
  const auto s = spec(root, true);
  auto first = run_ok(s);
  ASSERT_EQ(first.version.manifest["side_files"].size(), 1u);
  EXPECT_EQ(first.version.manifest["side_files"][0]["file"], "keys-00000.bin");
  // As a relabelled version has none: the manifest lists no keys file.
  auto manifest = first.version.manifest;
  manifest.erase("side_files");
  std::ofstream{fs::path{first.version.path} / "manifest.json"} << manifest.dump(2);
  new_data_arrives();
  auto second = run_ok(s);
  EXPECT_EQ(second.records, 4u);
  EXPECT_EQ(second.removed["exact_dedupe"], 1u);
  EXPECT_EQ(second.removed["near_dedupe"], 1u);
  // This run's keys file covers the stored records too: the next run reads it alone and
  // hashes nothing stored.
  ASSERT_EQ(second.version.manifest["side_files"].size(), 1u);
  auto keys_file = fs::path{second.version.path} / "keys-00000.bin";
  std::ifstream in{keys_file, std::ios::binary};
  const std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  auto keys = stored_keys::decode(bytes, keys_file.string());
  ASSERT_TRUE(keys) << describe(keys.error());
  EXPECT_EQ(keys->size(), 54u);
}

TEST_F(incremental_ingest_test, a_changed_pipeline_file_makes_a_full_run) {
  const auto root = dir_.str() + "/store";
  run_ok(spec(root, true));
  new_data_arrives();
  auto changed = run_ok(spec(root, true, 16));
  EXPECT_NE(changed.report["incremental"]["full_run_because"].get<std::string>().find("changed"),
            std::string::npos)
      << changed.report["incremental"];
  EXPECT_EQ(changed.records, 54u);
  EXPECT_FALSE(changed.version.manifest["lineage"].contains("parent"));
}

} // namespace
} // namespace llmos::dataset
