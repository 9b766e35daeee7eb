// The cleaning rules that judge text: normalise and dedupe_key (NFKC, full-width letters,
// Chinese), exact_dedupe (counts, reasons, quarantine), length_filter and non_text_filter, and
// the cleaner that runs a configured list of rules and refuses unknown names and options.
#include <gtest/gtest.h>

#include "clean_test_records.hpp"
#include "dataset/clean/cleaner.hpp"
#include "dataset/clean/exact_dedupe.hpp"
#include "dataset/clean/filters.hpp"
#include "dataset/clean/normalise.hpp"
#include "dataset/clean/utf8.hpp"
#include "llmos/messages/error.hpp"

using namespace llmos::dataset;

namespace {

std::vector<std::string> ids(const std::vector<record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records)
    out.push_back(r.id);
  return out;
}

// "ＨＥＬＬＯ　Ｗｏｒｌｄ！": full-width letters, an ideographic space, a full-width '!'.
const std::string full_width = "\xef\xbc\xa8\xef\xbc\xa5\xef\xbc\xac\xef\xbc\xac\xef\xbc\xaf"
                               "\xe3\x80\x80\xef\xbc\xb7\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x8c"
                               "\xef\xbd\x84\xef\xbc\x81";

} // namespace

TEST(normalise, nfkc_whitespace_and_case_kept) {
  EXPECT_EQ(normalise(full_width), "HELLO World!");
  EXPECT_EQ(normalise("  a \t b\r\n\r\n\n c\x01 \xef\xbb\xbf"
                      "d  "),
            "a b\n\nc d");
  EXPECT_EQ(normalise("a\nb  c", normalise_options{true}), "a b c");
  EXPECT_EQ(normalise("\xef\xac\x81ne \xe2\x91\xa0"), "fine 1"); // the "fi" ligature, circled 1
  // Invalid UTF-8 is repaired, not refused.
  EXPECT_EQ(normalise("caf\xe9"), "caf\xc3\xa9");
}

TEST(normalise, chinese_text_stays_intact) {
  const std::string zh = "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac\xef\xbc\x8c"
                         "\xe6\xb5\x8b\xe8\xaf\x95\xe3\x80\x82"; // 中文文本，测试。
  // NFKC turns the full-width comma into ',' and keeps the ideographs and '。'.
  EXPECT_EQ(
      normalise("  " + zh + "\xe3\x80\x80 "),
      "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac,\xe6\xb5\x8b\xe8\xaf\x95\xe3\x80\x82");
  EXPECT_EQ(dedupe_key(zh),
            "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac\xe6\xb5\x8b\xe8\xaf\x95");
  EXPECT_EQ(count_code_points(normalise(zh)), 8u);
}

TEST(normalise, dedupe_key_folds_case_width_punctuation_and_space) {
  EXPECT_EQ(dedupe_key("Hello, World!"), "helloworld");
  EXPECT_EQ(dedupe_key(full_width), "helloworld");
  EXPECT_EQ(dedupe_key("  hello\n\tWORLD..."), "helloworld");
  EXPECT_EQ(dedupe_key("Stra\xc3\x9f"
                       "e"),
            "strasse"); // case folding, not just lower case
  EXPECT_EQ(dedupe_key("Hello,  big\nWorld!", true), "hello big world");
  EXPECT_EQ(dedupe_key("$5 + 3 = 8"), "$5+3=8"); // symbols are content, not punctuation
}

TEST(exact_dedupe, removes_case_whitespace_and_width_variants_with_reasons) {
  auto records = make_records({"Hello World", "Different text", "hello   world",
                               full_width.substr(0, full_width.size() - 3) + " ", "hello, world.",
                               "different TEXT!"});
  quarantine q;
  const auto stats = exact_dedupe(records, q);
  EXPECT_EQ(stats.rule, "exact_dedupe");
  EXPECT_EQ(stats.removed, 4u);
  EXPECT_EQ(ids(records), (std::vector<std::string>{"r0", "r1"}));
  ASSERT_EQ(stats.examples.size(), 3u);
  EXPECT_EQ(stats.examples[0].id, "r2");
  EXPECT_EQ(stats.examples[0].reason, "duplicate of r0");
  EXPECT_EQ(stats.examples[1].id, "r3");
  EXPECT_EQ(stats.examples[2].reason, "duplicate of r0");
  EXPECT_EQ(q.counts().at("exact_dedupe"), 4u);
  const auto& ex = q.examples().at("exact_dedupe");
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(ex[3].reason, "duplicate of r1");
  EXPECT_EQ(ex[3].text, "different TEXT!");
  EXPECT_EQ(ex[0].origin.to_string(), "mail.txt:3");
  EXPECT_EQ(dedupe_hash("Hello World"), dedupe_hash("hello   world"));
}

TEST(filters, length_counts_code_points) {
  const std::string zh5 = "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad";
  auto records = make_records({zh5, "abcd", "abcdef", "abcde", zh5 + "\xe4\xb8\xad"});
  quarantine q;
  const auto stats = length_filter(records, q, length_options{5, 5});
  EXPECT_EQ(stats.removed, 3u);
  EXPECT_EQ(ids(records), (std::vector<std::string>{"r0", "r3"}));
  EXPECT_EQ(stats.examples[0].reason, "too short: 4 < 5 characters");
  EXPECT_EQ(stats.examples[1].reason, "too long: 6 > 5 characters");
  EXPECT_EQ(stats.examples[2].id, "r4"); // 18 bytes, but 6 code points
  EXPECT_EQ(q.counts().at("length_filter"), 3u);
  EXPECT_EQ(q.examples().at("length_filter")[0].text, "abcd");
}

TEST(filters, non_text_catches_base64_and_ascii_art) {
  std::string b64;
  for (int line = 0; line < 10; ++line) {
    for (int i = 0; i < 76; ++i)
      b64.push_back(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(line * 131 + i * 17) %
                                                                             64]);
    b64.push_back('\n');
  }
  const std::string art = "+-----+-----+\n|  o  |  x  |\n+-----+-----+\n| ### | *** |\n";
  const std::string prose = "The quick brown fox jumps over the lazy dog, twice (2x) in 2024.";
  const std::string zh = "\xe5\xba\x8a\xe5\x89\x8d\xe6\x98\x8e\xe6\x9c\x88\xe5\x85\x89\xef\xbc"
                         "\x8c\xe7\x96\x91\xe6\x98\xaf\xe5\x9c\xb0\xe4\xb8\x8a\xe9\x9c\x9c\xe3"
                         "\x80\x82"; // 床前明月光，疑是地上霜。
  EXPECT_LT(text_ratio(b64), 0.2);
  EXPECT_LT(text_ratio(art), 0.5);
  EXPECT_GT(text_ratio(prose), 0.8);
  EXPECT_GT(text_ratio(zh), 0.8);
  auto records = make_records({prose, b64, zh, art, ""});
  quarantine q;
  const auto stats = non_text_filter(records, q, non_text_options{0.6, 40});
  EXPECT_EQ(stats.removed, 2u);
  EXPECT_EQ(ids(records), (std::vector<std::string>{"r0", "r2", "r4"}));
  EXPECT_EQ(stats.examples[0].id, "r1");
  EXPECT_EQ(stats.examples[0].reason.rfind("text ratio 0.", 0), 0u);
  EXPECT_NE(stats.examples[0].reason.find("< 0.600"), std::string::npos);
  EXPECT_EQ(q.examples().at("non_text_filter")[1].text, art);
}

TEST(cleaner, runs_rules_in_order_and_reports_each) {
  auto records = make_records({"Subject: hi\n\nHello   World, this is a message.",
                               "hi hello world, THIS is a message", "short",
                               "Subject: other\n\nA different message entirely, long enough.",
                               "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2"});
  const std::vector<clean_rule_spec> specs{
      {"email_to_text", {{"keep_quoted_replies", "false"}}},
      {"normalise", {}},
      {"exact_dedupe", {}},
      {"near_dedupe", {{"threshold", "0.9"}, {"shingle", "4"}}},
      {"length_filter", {{"min_chars", "10"}, {"max_chars", "100000"}}},
      {"non_text_filter", {{"min_text_ratio", "0.5"}}}};
  quarantine q;
  const auto report = run_rules(records, specs, q);
  ASSERT_TRUE(report) << llmos::describe(report.error());
  ASSERT_EQ(report->rules.size(), 6u);
  EXPECT_EQ(report->records_in, 5u);
  EXPECT_EQ(report->records_out, 2u);
  EXPECT_EQ(report->rules[0].modified, 2u);
  EXPECT_EQ(report->rules[1].modified, 1u); // "Hello   World" -> "Hello World"
  EXPECT_EQ(report->rules[2].removed, 1u);
  EXPECT_EQ(report->rules[2].examples[0].reason, "duplicate of r0");
  EXPECT_EQ(report->rules[4].removed, 1u);
  EXPECT_EQ(report->rules[4].examples[0].id, "r2");
  EXPECT_EQ(report->rules[5].removed, 1u);
  EXPECT_EQ(report->rules[5].examples[0].id, "r4");
  EXPECT_EQ(ids(records), (std::vector<std::string>{"r0", "r3"}));
  EXPECT_EQ(records[0].text, "hi\n\nHello World, this is a message.");
  uint64_t total = 0;
  for (const auto& [rule, n] : q.counts())
    total += n;
  EXPECT_EQ(total, 3u); // every removal is in the quarantine
  EXPECT_NE(report->to_string().find("exact_dedupe"), std::string::npos);
}

TEST(cleaner, unknown_rules_options_and_bad_values_are_bad_config) {
  auto records = make_records({"a", "a"});
  quarantine q;
  auto expect_bad = [&](const std::vector<clean_rule_spec>& specs, const std::string& needle) {
    const auto report = run_rules(records, specs, q);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
    EXPECT_NE(llmos::describe(report.error()).find(needle), std::string::npos)
        << llmos::describe(report.error());
  };
  expect_bad({{"exact_dedupe", {}}, {"spellcheck", {}}}, "'spellcheck'");
  expect_bad({{"length_filter", {{"min", "3"}}}}, "unknown option 'min'");
  expect_bad({{"length_filter", {{"min_chars", "-3"}}}}, "'min_chars'");
  expect_bad({{"length_filter", {{"min_chars", "9"}, {"max_chars", "3"}}}}, "'max_chars'");
  expect_bad({{"near_dedupe", {{"threshold", "1.5"}}}}, "'threshold'");
  expect_bad({{"near_dedupe", {{"unit", "sentence"}}}}, "'unit'");
  expect_bad({{"near_dedupe", {{"bands", "16"}, {"rows", "8"}, {"num_perm", "100"}}}},
             "'num_perm'");
  expect_bad({{"email_to_text", {{"keep_quoted_replies", "maybe"}}}}, "'keep_quoted_replies'");
  expect_bad({{"exact_dedupe", {{"anything", "1"}}}}, "known: none");
  expect_bad({{"near_dedupe", {{"bands", "18446744073709551615"}}}}, "'bands'");
  expect_bad({{"near_dedupe", {{"verify", "maybe"}}}}, "'verify'");
  // Nothing ran: an invalid list leaves the records as they were.
  EXPECT_EQ(records.size(), 2u);
  EXPECT_TRUE(q.counts().empty());
  EXPECT_TRUE(validate_rules({{"near_dedupe", {{"num_perm", "64"}, {"rows", "4"}}}}));
}
