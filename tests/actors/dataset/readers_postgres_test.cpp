// The postgres source kind against a real PostgreSQL server (tools/testing/local_postgres: a
// fresh cluster on a loopback port, password authentication): columns mapped to text, label, id
// and meta, a NULL text quarantined with its row, more rows than one fetch, the limit, the
// password read from a file and never shown, incremental reads by a cursor column, and the
// refusals: a password in the connection string, a wrong password, a write, two statements, an
// unknown column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "local_postgres.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class postgres_reader_test : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    std::string why;
    server_ = llmos::testing::local_postgres::start(why).release();
    if (server_ == nullptr)
      skip_ = why;
    else if (!server_->exec("CREATE TABLE reviews (id integer PRIMARY KEY, body text, stars "
                            "integer, lang text, seen timestamp);"
                            "INSERT INTO reviews VALUES (7, 'great, really', 5, 'en', "
                            "'2026-12-01 10:00:00'), (8, '中文，好', 4, NULL, NULL), "
                            "(9, NULL, 1, 'en', NULL), (11, 'fine', 3, 'en', NULL);"
                            "CREATE TABLE big AS SELECT g AS id, 'row ' || g AS text "
                            "FROM generate_series(1, 4500) AS g;",
                            why))
      skip_ = why;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty())
      GTEST_SKIP() << skip_;
  }

  source_spec spec(std::map<std::string, std::string> options) const {
    options.emplace("password_file", server_->password_file());
    return source_spec{"shop", "postgres", server_->conninfo(), std::move(options)};
  }
  std::string password() const {
    std::ifstream in{server_->password_file()};
    std::string p;
    std::getline(in, p);
    return p;
  }

  static llmos::testing::local_postgres* server_;
  static std::string skip_;
};

llmos::testing::local_postgres* postgres_reader_test::server_ = nullptr;
std::string postgres_reader_test::skip_;

TEST_F(postgres_reader_test, maps_columns_and_quarantines_null_text) {
  auto res = read_all(spec({{"query", "SELECT id, body, stars, lang FROM reviews ORDER BY id"},
                            {"text_column", "body"},
                            {"label_column", "stars"},
                            {"id_column", "id"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 3u);
  EXPECT_EQ(res.records[0].id, "shop:7");
  EXPECT_EQ(res.records[0].text, "great, really");
  EXPECT_EQ(res.records[0].label, "5");
  EXPECT_EQ(res.records[0].meta, (std::map<std::string, std::string>{{"lang", "en"}}));
  EXPECT_EQ(res.records[1].text, "中文，好");
  EXPECT_EQ(res.records[1].meta.count("lang"), 0u) << "NULL columns are left out of meta";
  EXPECT_EQ(res.records[2].id, "shop:11");
  ASSERT_EQ(res.refused_count("postgres_reader"), 1u);
  EXPECT_THAT(res.refused("postgres_reader")[0].reason, HasSubstr("is NULL"));
  EXPECT_EQ(res.refused("postgres_reader")[0].origin.line, 3u);
}

TEST_F(postgres_reader_test, more_rows_than_one_fetch_the_table_shorthand_and_the_limit) {
  auto all = read_all(spec({{"table", "big"}}));
  ASSERT_TRUE(all.ok) << all.error;
  EXPECT_EQ(all.count, 4500u);
  EXPECT_EQ(all.records.back().id, "shop:row4500");
  auto some = read_all(spec({{"table", "big"}, {"limit", "2100"}}));
  ASSERT_TRUE(some.ok) << some.error;
  EXPECT_EQ(some.records.size(), 2100u);
}

TEST_F(postgres_reader_test, a_cursor_column_reads_only_what_is_new) {
  std::string why;
  ASSERT_TRUE(server_->exec("CREATE TABLE feed (id bigint, text text)", why)) << why;
  ASSERT_TRUE(
      server_->exec("INSERT INTO feed SELECT g, 'old ' || g FROM generate_series(1, 30) g", why))
      << why;
  source_cursor cursor;
  auto s = spec({{"table", "feed"}, {"cursor_column", "id"}, {"id_column", "id"}});
  s.cursor = &cursor;
  auto first = read_all(s);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.count, 30u);
  EXPECT_EQ(cursor.last, "30");
  // New rows arrive, some of them out of order: the cursor column orders them.
  ASSERT_TRUE(server_->exec("INSERT INTO feed VALUES (32, 'new 32'), (31, 'new 31')", why)) << why;
  cursor.after = cursor.last;
  auto second = read_all(s);
  ASSERT_TRUE(second.ok) << second.error;
  ASSERT_EQ(second.count, 2u);
  EXPECT_EQ(second.records[0].id, "shop:31");
  EXPECT_EQ(second.records[1].text, "new 32");
  EXPECT_EQ(cursor.last, "32");
  cursor.after = cursor.last;
  auto nothing = read_all(s);
  ASSERT_TRUE(nothing.ok) << nothing.error;
  EXPECT_EQ(nothing.count, 0u);
  EXPECT_EQ(cursor.last, "32") << "a read of nothing leaves the cursor where it was";
  // A timestamp cursor compares as a timestamp (the parameter takes the column's type).
  source_cursor when{"2026-11-30 00:00:00", ""};
  auto by_time = spec({{"table", "reviews"},
                       {"text_column", "body"},
                       {"cursor_column", "seen"},
                       {"id_column", "id"}});
  by_time.cursor = &when;
  auto recent = read_all(by_time);
  ASSERT_TRUE(recent.ok) << recent.error;
  ASSERT_EQ(recent.count, 1u);
  EXPECT_EQ(when.last, "2026-12-01 10:00:00");
}

TEST_F(postgres_reader_test, refusals_name_the_source_and_never_show_the_password) {
  std::string why;
  auto in_string = read_all(source_spec{
      "shop", "postgres", server_->conninfo() + " password=hunter2", {{"table", "reviews"}}});
  EXPECT_THAT(in_string.error, HasSubstr("password_file"));
  EXPECT_THAT(in_string.error, Not(HasSubstr("hunter2")));
  const std::string wrong_file = server_->password_file() + ".wrong";
  std::ofstream{wrong_file} << "not-the-password\n";
  auto wrong = read_all(source_spec{"shop",
                                    "postgres",
                                    server_->conninfo(),
                                    {{"table", "reviews"}, {"password_file", wrong_file}}});
  EXPECT_THAT(wrong.error, HasSubstr("cannot connect"));
  EXPECT_THAT(wrong.error, HasSubstr("shop"));
  EXPECT_THAT(wrong.error, Not(HasSubstr("not-the-password")));
  auto write = read_all(spec({{"query", "DELETE FROM reviews RETURNING body AS text"}}));
  EXPECT_THAT(write.error, HasSubstr("option 'query'"));
  auto cte = read_all(spec({{"query", "WITH d AS (DELETE FROM reviews RETURNING body) "
                                      "SELECT body AS text FROM d"}}));
  EXPECT_THAT(cte.error, HasSubstr("data-modifying"));
  // What the cursor cannot see, the READ ONLY transaction refuses.
  ASSERT_TRUE(server_->exec("CREATE SEQUENCE IF NOT EXISTS ticket", why)) << why;
  auto writes = read_all(spec({{"query", "SELECT nextval('ticket')::text AS text"}}));
  EXPECT_THAT(writes.error, HasSubstr("read-only transaction"));
  auto two = read_all(spec({{"query", "SELECT 1 AS text; SELECT 2"}}));
  EXPECT_FALSE(two.ok);
  auto column = read_all(spec({{"table", "reviews"}}));
  EXPECT_THAT(column.error, HasSubstr("no column 'text' (columns: id, body, stars, lang, seen)"));
  auto no_id = read_all(spec({{"table", "big"}, {"cursor_column", "id"}}));
  EXPECT_THAT(no_id.error, HasSubstr("needs 'id_column'"));
  // Nothing was changed by any of it.
  auto again = read_all(spec({{"table", "reviews"}, {"text_column", "body"}}));
  EXPECT_EQ(again.records.size(), 3u);
  EXPECT_THAT(password(), Not(HasSubstr(" ")));
}

} // namespace
} // namespace llmos::dataset
