// Parsing alert rules files: a full file with every field, defaults, and a refusal for each kind
// of mistake that names the file, the line and the field.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "monitor/core/alert_rule.hpp"

namespace {

using namespace std::chrono_literals;
using llmos::monitor::aggregate_mode;
using llmos::monitor::compare_op;
using llmos::monitor::parse_alert_rules;

const char* const full_file = R"(# alerts of the serving path
rules:
  - name: serving-queue-backlog
    metric: llmos_serving_queue_length
    labels: {model: quotes-topic}
    aggregate: sum
    op: ">="
    threshold: 100
    for: 10s
    severity: critical
    summary: "serving queue above 100 for 10 s"
  - name: slow-p99
    metric: llmos_serving_latency_seconds
    quantile: 0.99
    threshold: 0.25
    for: 500ms
  - name: minimal
    metric: llmos_up
    op: "<"
    threshold: 1
)";

TEST(alert_rules, parses_every_field_and_defaults) {
  auto rules = parse_alert_rules(full_file, "alerts.yaml");
  ASSERT_TRUE(rules) << llmos::describe(rules.error());
  ASSERT_EQ(rules->size(), 3u);
  const auto& a = (*rules)[0];
  EXPECT_EQ(a.name, "serving-queue-backlog");
  EXPECT_EQ(a.metric, "llmos_serving_queue_length");
  EXPECT_EQ(a.labels, (llmos::monitor::label_set{{"model", "quotes-topic"}}));
  EXPECT_EQ(a.aggregate, aggregate_mode::sum);
  EXPECT_EQ(a.op, compare_op::ge);
  EXPECT_EQ(a.threshold, 100.0);
  EXPECT_EQ(a.for_duration, 10s);
  EXPECT_EQ(a.severity, "critical");
  EXPECT_EQ(a.summary, "serving queue above 100 for 10 s");
  EXPECT_EQ(a.line, 3);
  const auto& b = (*rules)[1];
  ASSERT_TRUE(b.quantile);
  EXPECT_EQ(*b.quantile, 0.99);
  EXPECT_EQ(b.for_duration, 500ms);
  EXPECT_EQ(b.op, compare_op::gt) << "op defaults to >";
  EXPECT_EQ(b.severity, "warning");
  EXPECT_EQ(summary_of(b), "quantile 0.99 of llmos_serving_latency_seconds > 0.25");
  const auto& c = (*rules)[2];
  EXPECT_EQ(c.aggregate, aggregate_mode::max);
  EXPECT_EQ(c.for_duration, 0ms);
  EXPECT_FALSE(c.quantile);
  EXPECT_EQ(c.line, 17);
}

TEST(alert_rules, durations_and_empty_list) {
  for (auto [text, ms] :
       {std::pair{"0", 0}, {"500ms", 500}, {"10s", 10'000}, {"2m", 120'000}, {"1h", 3'600'000}}) {
    auto rules = parse_alert_rules(std::string("rules:\n  - {name: r, metric: m, threshold: 1, "
                                               "for: ") +
                                       text + "}\n",
                                   "f.yaml");
    ASSERT_TRUE(rules) << text << ": " << llmos::describe(rules.error());
    EXPECT_EQ((*rules)[0].for_duration.count(), ms) << text;
  }
  auto none = parse_alert_rules("rules: []\n", "f.yaml");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

/// The refusal of `text`: a bad_config error whose message contains every one of `parts`.
void expect_refusal(const std::string& text, std::initializer_list<std::string> parts) {
  auto rules = parse_alert_rules(text, "alerts.yaml");
  ASSERT_FALSE(rules) << "accepted:\n" << text;
  EXPECT_EQ(rules.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
  const auto message = llmos::describe(rules.error());
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

const std::string head = "rules:\n  - name: r\n    metric: m\n    threshold: 1\n";

TEST(alert_rules, unknown_field_gets_a_did_you_mean) {
  expect_refusal("rules:\n  - name: r\n    metric: m\n    treshold: 1\n",
                 {"alerts.yaml:4:", "unknown key 'treshold'", "did you mean 'threshold'?"});
  expect_refusal("rule:\n  - name: r\n", {"alerts.yaml:1:", "did you mean 'rules'?"});
}

TEST(alert_rules, bad_op) {
  expect_refusal(head + "    op: \"=>\"\n", {"alerts.yaml:5: op:", "'=>'", "did you mean '>='?"});
  // A bare > starts YAML folded text: the refusal says to quote it.
  expect_refusal(head + "    op: >\n    for: 1s\n", {"alerts.yaml:5: op:", "quote"});
}

TEST(alert_rules, bad_duration) {
  expect_refusal(head + "    for: 10 sec\n", {"alerts.yaml:5: for:", "'10 sec'", "10s"});
  expect_refusal(head + "    for: 10\n", {"alerts.yaml:5: for:", "unit"});
  expect_refusal(head + "    for: 1.5s\n", {"alerts.yaml:5: for:"});
}

TEST(alert_rules, missing_required_fields) {
  expect_refusal("rules:\n  - name: a\n    metric: m\n    threshold: 1\n  - name: b\n"
                 "    threshold: 2\n",
                 {"alerts.yaml:5: metric:", "rule 'b'"});
  expect_refusal("rules:\n  - name: r\n    metric: m\n", {"alerts.yaml:2: threshold:"});
  expect_refusal("rules:\n  - metric: m\n    threshold: 1\n", {"alerts.yaml:2: name:"});
  expect_refusal("alerts: []\n", {"alerts.yaml:1:", "'alerts'"});
}

TEST(alert_rules, duplicate_rule_name) {
  expect_refusal(head + "  - name: r\n    metric: n\n    threshold: 2\n",
                 {"alerts.yaml:5: name:", "'r'", "also at line 2"});
}

TEST(alert_rules, bad_values_name_their_field) {
  expect_refusal(head + "    severity: warn\n",
                 {"alerts.yaml:5: severity:", "did you mean 'warning'?"});
  expect_refusal(head + "    aggregate: mean\n", {"alerts.yaml:5: aggregate:", "avg"});
  expect_refusal(head + "    quantile: 99\n", {"alerts.yaml:5: quantile:", "0.99"});
  expect_refusal(head + "    quantile: 0.5\n    aggregate: max\n",
                 {"alerts.yaml:6: aggregate:", "quantile"});
  expect_refusal("rules:\n  - name: r\n    metric: m\n    threshold: lots\n",
                 {"alerts.yaml:4: threshold:", "'lots'"});
  expect_refusal(head + "    labels: [model]\n", {"alerts.yaml:5: labels:"});
  expect_refusal("rules:\n  - name: r\n    metric: my metric\n    threshold: 1\n",
                 {"alerts.yaml:3: metric:"});
}

TEST(alert_rules, yaml_syntax_error_names_the_line) {
  expect_refusal("rules:\n  - name: r\n    metric: [m\n", {"alerts.yaml:", "YAML syntax error"});
}

} // namespace
