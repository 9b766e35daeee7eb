// The CSV/TSV reader and its incremental parser, on hand-made files: RFC 4180 quoting, line
// numbers of rows that span lines, BOM and CRLF, and the rows that must go to the quarantine.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataset/readers/csv_parser.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

using test::temp_folder;
using ::testing::HasSubstr;

using rows_t = std::vector<csv_row>;

/// Parses `input` fed in pieces of `piece` bytes (0: all at once).
rows_t parse(const std::string& input, std::size_t piece = 0, char delimiter = ',',
             char quote = '"') {
  rows_t rows;
  csv_parser parser{delimiter, quote};
  const csv_parser::row_fn on_row = [&](csv_row&& r) { rows.push_back(std::move(r)); };
  if (piece == 0)
    piece = input.size() + 1;
  for (std::size_t i = 0; i < input.size(); i += piece)
    parser.feed(std::string_view{input}.substr(i, piece), on_row);
  parser.finish(on_row);
  return rows;
}

std::vector<std::vector<std::string>> fields(const rows_t& rows) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : rows)
    out.push_back(r.fields);
  return out;
}

std::vector<uint64_t> lines(const rows_t& rows) {
  std::vector<uint64_t> out;
  for (const auto& r : rows)
    out.push_back(r.line);
  return out;
}

TEST(csv_parser, quoted_fields_keep_newlines_delimiters_and_doubled_quotes) {
  const std::string input = "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\nlast,row\n";
  const std::vector<std::vector<std::string>> want{
      {"a", "b"}, {"x, y", "say \"hi\""}, {"two\nlines", "z"}, {"last", "row"}};
  // Every chunking gives the same rows: a file read in blocks splits rows anywhere.
  for (std::size_t piece : {0, 1, 2, 3, 7}) {
    auto rows = parse(input, piece);
    EXPECT_EQ(fields(rows), want) << "piece " << piece;
    EXPECT_EQ(lines(rows), (std::vector<uint64_t>{1, 2, 3, 5})) << "piece " << piece;
    for (const auto& r : rows)
      EXPECT_TRUE(r.error.empty()) << r.error;
  }
}

TEST(csv_parser, crlf_and_lone_cr_end_rows_and_crlf_inside_quotes_is_kept) {
  auto rows = parse("h1,h2\r\n\"a\r\nb\",c\r\nd,e\rf,g", 1);
  EXPECT_EQ(fields(rows), (std::vector<std::vector<std::string>>{
                              {"h1", "h2"}, {"a\r\nb", "c"}, {"d", "e"}, {"f", "g"}}));
  EXPECT_EQ(lines(rows), (std::vector<uint64_t>{1, 2, 4, 5}));
}

TEST(csv_parser, strips_a_bom_even_when_split_and_keeps_bytes_that_only_look_like_one) {
  for (std::size_t piece : {0, 1, 2}) {
    auto rows = parse("\xEF\xBB\xBFtext\nx\n", piece);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].fields[0], "text") << "piece " << piece;
  }
  auto rows = parse("\xEF\xBBx\n", 1);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields[0], "\xEF\xBBx");
}

TEST(csv_parser, blank_lines_are_skipped_but_counted) {
  auto rows = parse("a\n\n\nb\n\"\"\n");
  EXPECT_EQ(fields(rows), (std::vector<std::vector<std::string>>{{"a"}, {"b"}, {""}}));
  EXPECT_EQ(lines(rows), (std::vector<uint64_t>{1, 4, 5}));
}

TEST(csv_parser, unterminated_quote_refuses_its_line_and_reads_the_rest_again) {
  auto rows = parse("a,b\n1,\"oops\n2,two\n3,three\n", 2);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_THAT(rows[1].error, HasSubstr("unterminated"));
  EXPECT_EQ(rows[1].raw, "1,\"oops");
  EXPECT_EQ(fields(rows)[2], (std::vector<std::string>{"2", "two"}));
  EXPECT_EQ(fields(rows)[3], (std::vector<std::string>{"3", "three"}));
  EXPECT_EQ(lines(rows), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(rows[2].error.empty());
}

TEST(csv_parser, text_after_a_closing_quote_marks_the_row) {
  auto rows = parse("\"ab\"c,d\ne,f\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0].error, HasSubstr("after the closing quote of field 1"));
  EXPECT_TRUE(rows[1].error.empty());
}

TEST(csv_parser, without_quoting_a_quote_is_an_ordinary_byte) {
  auto rows = parse("5\" screen\t\"x\n", 0, '\t', '\0');
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"5\" screen", "\"x"}));
  // A quote inside an unquoted field is data in quoting mode too.
  EXPECT_EQ(parse("5\" tv,b\n")[0].fields, (std::vector<std::string>{"5\" tv", "b"}));
}

source_spec csv_spec(const std::string& path, std::map<std::string, std::string> options = {}) {
  return source_spec{"reviews", "csv", path, std::move(options)};
}

TEST(csv_reader, maps_columns_keeps_extras_in_meta_and_chinese_byte_exact) {
  temp_folder dir;
  const std::string chinese = "\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x8C\xE5\xA5\xBD"; // 中文，好
  auto path = dir.write("r.csv", "\xEF\xBB\xBFid,body,stars,lang\r\n"
                                 "1,\"great, \"\"really\"\"\r\ngreat\",5,en\r\n"
                                 "2," +
                                     chinese + ",4,zh\r\n");
  auto res = read_all(csv_spec(path, {{"text_column", "body"}, {"label_column", "stars"}}));
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 2u);
  ASSERT_EQ(res.records.size(), 2u);
  const auto& a = res.records[0];
  EXPECT_EQ(a.text, "great, \"really\"\r\ngreat");
  EXPECT_EQ(a.label, "5");
  EXPECT_EQ(a.meta, (std::map<std::string, std::string>{{"id", "1"}, {"lang", "en"}}));
  EXPECT_EQ(a.origin.path, path);
  EXPECT_EQ(a.origin.line, 2u);
  EXPECT_EQ(a.origin.source, "reviews");
  EXPECT_EQ(a.id, "reviews:2");
  EXPECT_EQ(res.records[1].text, chinese);
  EXPECT_EQ(res.records[1].origin.line, 4u);
  EXPECT_EQ(res.records[1].origin.index, 1u);
}

TEST(csv_reader, wrong_field_counts_and_bad_utf8_go_to_quarantine_with_their_line) {
  temp_folder dir;
  auto path = dir.write("r.csv", "text,label\n"
                                 "\"multi\nline\",a\n" // lines 2-3
                                 "short\n"             // line 4: one field
                                 "ok,b\n"              // line 5
                                 "x,y,z\n"             // line 6: three fields
                                 "caf\xE9,c\n"         // line 7: Latin-1
                                 "\"bad\"quote,d\n"    // line 8
                                 "fine,e");            // line 9, no final newline
  auto res = read_all(csv_spec(path, {{"label_column", "label"}}));
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 3u);
  std::vector<std::string> labels;
  for (const auto& r : res.records)
    labels.push_back(r.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ(res.records[2].origin.line, 9u);
  auto refused = res.refused("csv_reader");
  ASSERT_EQ(res.refused_count("csv_reader"), 4u);
  ASSERT_EQ(refused.size(), 4u);
  EXPECT_EQ(refused[0].origin.to_string(), path + ":4");
  EXPECT_THAT(refused[0].reason, HasSubstr("row has 1 fields, the header has 2"));
  EXPECT_EQ(refused[0].text, "short");
  EXPECT_EQ(refused[1].origin.line, 6u);
  EXPECT_EQ(refused[2].origin.line, 7u);
  EXPECT_THAT(refused[2].reason, HasSubstr("invalid UTF-8 at byte 3"));
  EXPECT_EQ(refused[3].origin.line, 8u);
  EXPECT_THAT(refused[3].reason, HasSubstr("closing quote"));
}

TEST(csv_reader, unterminated_quote_at_eof_is_quarantined_at_its_start_line) {
  temp_folder dir;
  auto path = dir.write("r.csv", "text\nfirst\n\"never closed\nsecond\n");
  auto res = read_all(csv_spec(path));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[1].text, "second");
  EXPECT_EQ(res.records[1].origin.line, 4u);
  auto refused = res.refused("csv_reader");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].origin.line, 3u);
  EXPECT_THAT(refused[0].reason, HasSubstr("unterminated"));
}

TEST(csv_reader, tsv_uses_tabs_and_the_delimiter_option_overrides) {
  temp_folder dir;
  auto tsv = dir.write("r.tsv", "label\ttext\nham\thello, world\n");
  auto res = read_all(source_spec{"t", "tsv", tsv, {{"label_column", "label"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 1u);
  EXPECT_EQ(res.records[0].text, "hello, world");
  EXPECT_EQ(res.records[0].label, "ham");
  auto semi = dir.write("r.csv", "text;n\na,b;1\n");
  res = read_all(csv_spec(semi, {{"delimiter", ";"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 1u);
  EXPECT_EQ(res.records[0].text, "a,b");
  EXPECT_EQ(res.records[0].meta.at("n"), "1");
  // A quarantined TSV row is filed under the tsv rule.
  auto bad = dir.write("b.tsv", "text\tx\nonly\n");
  res = read_all(source_spec{"t", "tsv", bad, {}});
  EXPECT_EQ(res.refused_count("tsv_reader"), 1u);
}

TEST(csv_reader, hard_errors_name_the_path_and_the_fix) {
  temp_folder dir;
  auto missing = refusal_of(csv_spec(dir.str() + "/nope.csv"));
  EXPECT_THAT(missing, HasSubstr("io_failed"));
  EXPECT_THAT(missing, HasSubstr("nope.csv"));
  auto path = dir.write("r.csv", "body,stars\nx,1\n");
  auto no_column = read_all(csv_spec(path));
  EXPECT_FALSE(no_column.ok);
  EXPECT_THAT(no_column.error, HasSubstr(path + ":1"));
  EXPECT_THAT(no_column.error, HasSubstr("no column 'text'"));
  EXPECT_THAT(no_column.error, HasSubstr("columns: body, stars"));
  EXPECT_TRUE(no_column.records.empty());
  expect_refusals(csv_spec(path),
                  {{{{"text_colum", "body"}}, {"option 'text_colum': not known"}},
                   {{{"text_column", "body"}, {"label_column", "body"}}, {"same column"}},
                   {{{"delimiter", ";;"}}, {"single character"}}});
  EXPECT_THAT(refusal_of(csv_spec(dir.write("e.csv", ""))), HasSubstr("header row"));
  EXPECT_THAT(refusal_of(csv_spec(dir.write("d.csv", "text,text\na,b\n"))),
              HasSubstr("appears twice"));
}

TEST(csv_reader, header_false_numbers_the_columns_and_reads_the_first_row_as_data) {
  temp_folder dir;
  // As Pang & Lee's and most exported TSV files: label and sentence, no header row.
  auto tsv = dir.write("p.tsv", "pos\ta gripping, funny film\nneg\tdull\n");
  auto res = read_all(source_spec{
      "pl", "tsv", tsv, {{"header", "false"}, {"label_column", "0"}, {"text_column", "1"}}});
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[0].label, "pos");
  EXPECT_EQ(res.records[0].text, "a gripping, funny film");
  EXPECT_EQ(res.records[0].origin.line, 1u);
  EXPECT_EQ(res.records[1].label, "neg");
  EXPECT_TRUE(res.records[1].meta.empty());
  // Without text_column the first column is the text; the others go to meta by position, and
  // a row of another width is quarantined like any other.
  auto csv = dir.write("q.csv", "hello,1\nworld,2\nthree,fields,here\n");
  res = read_all(csv_spec(csv, {{"header", "no"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[0].text, "hello");
  EXPECT_EQ(res.records[0].meta.at("1"), "1");
  EXPECT_EQ(res.refused_count("csv_reader"), 1u);
  // An empty headerless file is no error: it has no records.
  res = read_all(csv_spec(dir.write("e.csv", ""), {{"header", "false"}}));
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.count, 0u);
}

TEST(csv_reader, skip_rows_passes_over_lines_before_the_header_or_the_data) {
  temp_folder dir;
  auto path = dir.write("r.csv", "exported 2026-12-04\n\"from, the shop\"\ntext,label\na,x\n");
  auto res = read_all(csv_spec(path, {{"skip_rows", "2"}, {"label_column", "label"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 1u);
  EXPECT_EQ(res.records[0].text, "a");
  EXPECT_EQ(res.records[0].label, "x");
  EXPECT_EQ(res.records[0].origin.line, 4u);
  res = read_all(csv_spec(path, {{"skip_rows", "3"}, {"header", "false"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 1u);
  EXPECT_EQ(res.records[0].meta.at("1"), "x");
  EXPECT_THAT(refusal_of(csv_spec(path, {{"skip_rows", "9"}})),
              HasSubstr("empty after the skipped rows"));
}

TEST(csv_reader, header_and_skip_rows_refusals_say_what_to_write) {
  temp_folder dir;
  auto path = dir.write("r.csv", "a,b\n");
  expect_refusals(
      csv_spec(path),
      {{{{"header", "maybe"}}, {"option 'header': 'maybe' is not a boolean"}},
       {{{"skip_rows", "-1"}}, {"option 'skip_rows': '-1' is not a non-negative integer"}},
       {{{"skip_rows", "two"}}, {"is not a non-negative integer"}},
       // The message that sent users to edit their files now names the option.
       {{{"label_column", "0"}}, {"'header: false' when the first row is data"}},
       {{{"header", "false"}, {"text_column", "5"}}, {"no column '5'", "numbered from 0"}}});
}

} // namespace
} // namespace llmos::dataset
