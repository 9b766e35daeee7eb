// Annotation: labelling functions vote or abstain, weighted majority with ties, Snorkel-style
// statistics on a hand-made set with exact expected numbers, errors at load time, Chinese
// keywords, and pseudo-labels from a model applied only above the threshold.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "dataset/annotate/labeller.hpp"
#include "dataset/annotate/pseudo_label.hpp"
#include "dataset/annotate/text_match.hpp"
#include "llmos/messages/error.hpp"

using namespace llmos::dataset;

namespace {

labelling_function lf(std::string name, std::string kind, std::vector<std::string> patterns,
                      std::string label, double weight = 1.0, bool case_sensitive = false) {
  auto f = labelling_function::compile({std::move(name), std::move(kind), std::move(patterns),
                                        std::move(label), weight, case_sensitive});
  EXPECT_TRUE(f) << llmos::describe(f.error());
  return std::move(*f);
}

record rec(std::string id, std::string text, std::string label = "") {
  record r;
  r.id = std::move(id);
  r.text = std::move(text);
  r.label = std::move(label);
  return r;
}

} // namespace

TEST(labelling_function, keyword_votes_on_whole_words_only) {
  auto f = lf("money", "keywords", {"free money", "cash"}, "spam");
  EXPECT_FALSE(f.fires("Get FREE   money now")); // a phrase keyword keeps its single space
  EXPECT_TRUE(f.fires("Get FREE money now!"));
  EXPECT_TRUE(f.fires("(cash)"));
  EXPECT_FALSE(f.fires("cashews and freemoney"));
  EXPECT_FALSE(f.fires(""));
  auto exact = lf("exact", "keywords", {"Cash"}, "spam", 1.0, true);
  EXPECT_TRUE(exact.fires("Cash only"));
  EXPECT_FALSE(exact.fires("cash only"));
}

TEST(labelling_function, keywords_fold_unicode_case) {
  auto f = lf("street", "keywords", {"straße"}, "address");
  EXPECT_TRUE(f.fires("HAUPTSTRASSE? no: STRASSE 5"));
  EXPECT_FALSE(f.fires("Hauptstraße 5")); // glued to "Haupt": not a whole word
}

TEST(labelling_function, chinese_keywords_match_as_substrings) {
  auto free = lf("free_zh", "keywords", {"免费"}, "spam");
  EXPECT_TRUE(free.fires("点击获取免费礼品"));
  EXPECT_FALSE(free.fires("收费服务"));
  // A Latin keyword next to Chinese characters: the CJK neighbour is a word boundary.
  auto phone = lf("phone", "keywords", {"iphone"}, "ads");
  EXPECT_TRUE(phone.fires("买iPhone手机"));
  EXPECT_FALSE(phone.fires("买iPhones"));
  EXPECT_TRUE(contains_whole_word("a 中文 b", "中"));
}

TEST(labelling_function, regex_votes_or_abstains) {
  auto f = lf("click", "regex", {R"(click\s+here)", R"(^unsubscribe$)"}, "spam");
  EXPECT_TRUE(f.fires("Please CLICK   HERE"));
  EXPECT_TRUE(f.fires("line one\r\nunsubscribe\r\nline three")); // ^ and $ are per line
  EXPECT_FALSE(f.fires("clicked here"));
  // A match beyond the first window of a very long line is still found.
  EXPECT_TRUE(f.fires(std::string(50000, 'x') + " click here"));
  auto cs = lf("cs", "regex", {"URGENT"}, "spam", 1.0, true);
  EXPECT_FALSE(cs.fires("urgent"));
}

TEST(labelling_function, invalid_regex_is_a_config_error_naming_function_and_pattern) {
  auto f = labelling_function::compile({"broken_lf", "regex", {"ok", "(unclosed"}, "spam"});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
  auto msg = llmos::describe(f.error());
  EXPECT_NE(msg.find("broken_lf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(unclosed"), std::string::npos) << msg;
  EXPECT_FALSE(labelling_function::compile({"k", "fuzzy", {"x"}, "spam"}));
  EXPECT_FALSE(labelling_function::compile({"w", "keywords", {"x"}, "spam", -1.0}));
  EXPECT_FALSE(labeller::make({{"a", "keywords", {"x"}, "s"}, {"a", "keywords", {"y"}, "h"}}));
}

TEST(labeller, pipeline_errors_name_file_line_function_and_pattern) {
  labelling_function_decl ok{"money", "keywords", {"cash"}, "spam", 2.0, false, 12};
  labelling_function_decl broken{"links", "regex", {"[a-"}, "spam", 1.0, false, 17};
  auto l = labeller::from_pipeline({ok}, "spam.yaml");
  ASSERT_TRUE(l) << llmos::describe(l.error());
  EXPECT_EQ(l->functions().at(0).weight(), 2.0);
  auto bad = labeller::from_pipeline({ok, broken}, "spam.yaml");
  ASSERT_FALSE(bad);
  auto msg = llmos::describe(bad.error());
  EXPECT_EQ(
      msg.rfind("bad_config: spam.yaml:17: labelling function 'links': invalid regex '[a-'", 0), 0u)
      << msg;
}

TEST(weighted_majority, heaviest_label_wins_and_ties_abstain) {
  auto v = weighted_majority({{"spam", 1.0}, {"ham", 1.5}, {"spam", 1.0}});
  EXPECT_EQ(v.label, "spam");
  EXPECT_DOUBLE_EQ(v.weight, 2.0);
  EXPECT_DOUBLE_EQ(v.confidence(), 2.0 / 3.5);
  EXPECT_EQ(v.voters, 3u);
  auto tie = weighted_majority({{"spam", 0.1}, {"spam", 0.2}, {"ham", 0.3}});
  EXPECT_TRUE(tie.tie);
  EXPECT_EQ(tie.label, "");
  auto none = weighted_majority({});
  EXPECT_EQ(none.label, "");
  EXPECT_FALSE(none.tie);
  EXPECT_EQ(weighted_majority({{"ham", 3.0}, {"spam", 1.0}, {"spam", 1.0}}).label, "ham");
}

namespace {

// Four functions over six records: the expected numbers below are counted by hand.
labeller hand_made_labeller() {
  auto l = labeller::make({{"money", "keywords", {"free money", "cash"}, "spam"},
                           {"click", "regex", {R"(click\s+here)"}, "spam"},
                           {"meeting", "keywords", {"meeting"}, "ham"},
                           {"free_zh", "keywords", {"免费"}, "spam"}});
  EXPECT_TRUE(l) << llmos::describe(l.error());
  return std::move(*l);
}

std::vector<record> hand_made_records() {
  return {rec("r1", "Get FREE money now, click here", "spam"), // money, click
          rec("r2", "meeting at noon", "ham"),                 // meeting
          rec("r3", "cash for the meeting"),                   // money, meeting: tie
          rec("r4", "免费获取"),                               // free_zh
          rec("r5", "cashews and freemoney"),                  // nobody
          rec("r6", "Click  here for the meeting", "spam")};   // click, meeting: tie
}

} // namespace

TEST(labeller, statistics_on_a_hand_made_set) {
  auto l = hand_made_labeller();
  auto records = hand_made_records();
  auto st = l.annotate(records, {});
  EXPECT_EQ(st.records, 6u);
  EXPECT_DOUBLE_EQ(st.coverage, 5.0 / 6);
  EXPECT_DOUBLE_EQ(st.overlap, 3.0 / 6);
  EXPECT_DOUBLE_EQ(st.conflict, 2.0 / 6);
  ASSERT_EQ(st.functions.size(), 4u);
  const auto& money = st.functions[0];
  EXPECT_EQ(money.name, "money");
  EXPECT_DOUBLE_EQ(money.coverage, 2.0 / 6);
  EXPECT_DOUBLE_EQ(money.overlap, 2.0 / 6);
  EXPECT_DOUBLE_EQ(money.conflict, 1.0 / 6);
  EXPECT_DOUBLE_EQ(money.accuracy.value_or(-1), 1.0);
  const auto& click = st.functions[1];
  EXPECT_DOUBLE_EQ(click.coverage, 2.0 / 6);
  EXPECT_DOUBLE_EQ(click.overlap, 2.0 / 6);
  EXPECT_DOUBLE_EQ(click.conflict, 1.0 / 6);
  EXPECT_DOUBLE_EQ(click.accuracy.value_or(-1), 1.0);
  const auto& meeting = st.functions[2];
  EXPECT_DOUBLE_EQ(meeting.coverage, 3.0 / 6);
  EXPECT_DOUBLE_EQ(meeting.overlap, 2.0 / 6);
  EXPECT_DOUBLE_EQ(meeting.conflict, 2.0 / 6);
  EXPECT_EQ(meeting.gold_votes, 2u);
  EXPECT_DOUBLE_EQ(meeting.accuracy.value_or(-1), 0.5);
  const auto& zh = st.functions[3];
  EXPECT_DOUBLE_EQ(zh.coverage, 1.0 / 6);
  EXPECT_DOUBLE_EQ(zh.overlap, 0.0);
  EXPECT_DOUBLE_EQ(zh.conflict, 0.0);
  EXPECT_FALSE(zh.accuracy.has_value());
  // Combined: r1 spam, r2 ham (both gold, kept), r3 and r6 tie, r4 newly spam, r5 nothing.
  EXPECT_EQ(st.labelled, 1u);
  EXPECT_EQ(st.relabelled, 0u);
  EXPECT_EQ(st.kept, 3u);
  EXPECT_EQ(st.ties, 2u);
  EXPECT_EQ(st.gold_scored, 2u);
  EXPECT_DOUBLE_EQ(st.accuracy.value_or(-1), 1.0);
  EXPECT_EQ(st.label_distribution, (std::map<std::string, uint64_t>{{"spam", 3}, {"ham", 1}}));
  EXPECT_EQ(st.unlabelled, 2u);
  EXPECT_EQ(records[3].label, "spam");
  EXPECT_EQ(records[3].meta.at("label_source"), "labelling_functions");
  EXPECT_EQ(records[2].label, "");
  EXPECT_EQ(records[0].meta.count("label_source"), 0u);
  auto j = to_json(st);
  EXPECT_EQ(j["functions"][2]["name"], "meeting");
  EXPECT_TRUE(j["functions"][3]["accuracy"].is_null());
}

TEST(labeller, existing_labels_are_only_scored_unless_overwrite) {
  auto l = labeller::make(
      {{"money", "keywords", {"cash"}, "spam", 2.0}, {"meeting", "keywords", {"meeting"}, "ham"}});
  ASSERT_TRUE(l);
  std::vector<record> records{rec("a", "cash for the meeting", "ham")};
  auto kept = l->annotate(records, {});
  EXPECT_EQ(records[0].label, "ham");
  EXPECT_EQ(kept.kept, 1u);
  EXPECT_DOUBLE_EQ(kept.accuracy.value_or(-1), 0.0);
  auto over = l->annotate(records, {.overwrite = true});
  EXPECT_EQ(records[0].label, "spam");
  EXPECT_EQ(over.relabelled, 1u);
  EXPECT_EQ(records[0].meta.at("label_source"), "labelling_functions");
  EXPECT_EQ(records[0].meta.at("label_confidence"), "0.6666666666666666");
}

TEST(pseudo_labels, applied_only_at_or_above_threshold_to_unlabelled_records) {
  std::vector<record> records{rec("a", "x"), rec("b", "y"), rec("c", "z", "gold"), rec("d", "w")};
  std::vector<pseudo_label> labels{
      {"a", "spam", 0.95}, {"b", "ham", 0.89}, {"c", "spam", 0.99},       {"d", "ham", 0.9},
      {"zz", "ham", 1.0},  {"a", "ham", 0.99}, {"b", "ham", std::nan("")}};
  auto n = apply_pseudo_labels(records, labels, 0.9);
  EXPECT_EQ(n.applied, 2u); // a and d (exactly at the threshold)
  EXPECT_EQ(n.below_threshold, 2u);
  EXPECT_EQ(n.already_labelled, 2u); // c is gold; a was just labelled
  EXPECT_EQ(n.unknown_record, 1u);
  EXPECT_EQ(records[0].label, "spam");
  EXPECT_EQ(records[0].meta.at("label_source"), "model");
  EXPECT_EQ(records[1].label, "");
  EXPECT_EQ(records[2].label, "gold");
  EXPECT_EQ(records[2].meta.count("label_source"), 0u);
  EXPECT_EQ(records[3].label, "ham");
  EXPECT_EQ(records[3].meta.at("label_confidence"), "0.9");
}
