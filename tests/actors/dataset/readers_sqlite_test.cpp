// The sqlite source kind on a database the test writes with SQLite itself: columns mapped to
// text, label, id and meta (Chinese byte-exact, numbers as SQLite renders them), NULL and
// non-UTF-8 text quarantined with their row, the table shorthand and the limit, and the
// refusals: a missing file, a write, two statements, an unknown column.
#include <sqlite3.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

using test::temp_folder;
using ::testing::HasSubstr;

/// Creates `path` and runs `sql` in it.
void make_db(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

source_spec sqlite_spec(const std::string& path, std::map<std::string, std::string> options) {
  return source_spec{"shop", "sqlite", path, std::move(options)};
}

class sqlite_reader_test : public ::testing::Test {
protected:
  void SetUp() override {
    db_ = dir_.str() + "/shop.db";
    make_db(db_,
            "CREATE TABLE reviews (id INTEGER PRIMARY KEY, body TEXT, stars INTEGER, "
            "price REAL, lang TEXT);"
            "INSERT INTO reviews VALUES (7, 'great, really', 5, 9.5, 'en');"
            "INSERT INTO reviews VALUES (8, '\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x8C\xE5\xA5\xBD', "
            "4, NULL, 'zh');"
            "INSERT INTO reviews VALUES (9, NULL, 1, 1, 'en');"
            "INSERT INTO reviews VALUES (10, CAST(X'FF41' AS TEXT), 2, 1, 'en');"
            "INSERT INTO reviews VALUES (11, 'fine', 3, 2, NULL);");
  }
  temp_folder dir_;
  std::string db_;
};

TEST_F(sqlite_reader_test, maps_columns_and_quarantines_null_or_broken_text) {
  auto res = read_all(
      sqlite_spec(db_, {{"query", "SELECT id, body, stars, price, lang FROM reviews ORDER BY id"},
                        {"text_column", "body"},
                        {"label_column", "stars"},
                        {"id_column", "id"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 3u);
  const auto& a = res.records[0];
  EXPECT_EQ(a.id, "shop:7");
  EXPECT_EQ(a.text, "great, really");
  EXPECT_EQ(a.label, "5");
  EXPECT_EQ(a.meta, (std::map<std::string, std::string>{{"price", "9.5"}, {"lang", "en"}}));
  EXPECT_EQ(a.origin.line, 1u);
  EXPECT_EQ(res.records[1].text, "\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x8C\xE5\xA5\xBD");
  EXPECT_EQ(res.records[1].meta.count("price"), 0u) << "NULL columns are left out of meta";
  EXPECT_EQ(res.records[2].id, "shop:11");
  EXPECT_EQ(res.refused_count("sqlite_reader"), 2u);
  auto refused = res.refused("sqlite_reader");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_THAT(refused[0].reason, HasSubstr("is NULL"));
  EXPECT_EQ(refused[0].origin.line, 3u);
  EXPECT_THAT(refused[1].reason, HasSubstr("invalid UTF-8"));
}

TEST_F(sqlite_reader_test, the_table_shorthand_the_default_ids_and_the_limit) {
  make_db(db_, "CREATE TABLE \"odd \"\"name\" (text TEXT); INSERT INTO \"odd \"\"name\" "
               "VALUES ('a'), ('b'), ('c');");
  auto res = read_all(sqlite_spec(db_, {{"table", "odd \"name"}, {"limit", "2"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[0].id, "shop:row1");
  EXPECT_EQ(res.records[1].text, "b");
}

TEST_F(sqlite_reader_test, refusals_name_the_source_and_what_to_write) {
  auto missing = refusal_of(sqlite_spec(dir_.str() + "/nope.db", {{"table", "t"}}));
  EXPECT_THAT(missing, HasSubstr("nope.db"));
  EXPECT_THAT(missing, HasSubstr("cannot open the database read-only"));
  expect_refusals(
      sqlite_spec(db_, {}),
      {{{{"query", "DELETE FROM reviews"}}, {"would change the database"}},
       {{{"query", "SELECT 1 AS text; SELECT 2"}}, {"more than one statement"}},
       {{{"table", "reviews"}}, {"no column 'text' (columns: id, body, stars, price, lang)"}},
       {{{"query", "SELEC body FROM reviews"}}, {"option 'query'"}},
       {{}, {"needs 'query'"}}});
  // The database is untouched by all of it.
  auto again = read_all(sqlite_spec(db_, {{"table", "reviews"}, {"text_column", "body"}}));
  EXPECT_EQ(again.records.size(), 3u);
}

} // namespace
} // namespace llmos::dataset
