// The alert engine on a fixed clock: a rule fires only after its 'for' has elapsed, resolves as
// soon as its condition is false, aggregates and matches labels as the rule says.
#include <cmath>

#include <gtest/gtest.h>

#include "monitor/core/alert_engine.hpp"

namespace {

using namespace std::chrono_literals;
using llmos::monitor::aggregate_mode;
using llmos::monitor::alert_engine;
using llmos::monitor::alert_rule;
using llmos::monitor::compare_op;
using llmos::monitor::rule_value;
using llmos::monitor::sample;

const std::chrono::system_clock::time_point t0{std::chrono::seconds{1'700'000'000}};
constexpr int64_t t0_ms = 1'700'000'000'000;

alert_rule backlog_rule(std::chrono::milliseconds hold) {
  alert_rule r;
  r.name = "backlog";
  r.metric = "queue_length";
  r.op = compare_op::gt;
  r.threshold = 100;
  r.for_duration = hold;
  r.severity = "critical";
  r.summary = "queue above 100";
  return r;
}

std::vector<sample> queue(double value) {
  return {{"queue_length", {{"model", "a"}}, value}};
}

TEST(alert_engine, fires_only_after_for_elapses) {
  alert_engine engine{{backlog_rule(10s)}};
  EXPECT_TRUE(engine.evaluate(queue(150), t0).empty());
  EXPECT_EQ(engine.current()[0].state, "pending");
  EXPECT_EQ(engine.current()[0].since, t0_ms);
  EXPECT_TRUE(engine.evaluate(queue(160), t0 + 9999ms).empty()) << "fired before 'for' elapsed";
  EXPECT_EQ(engine.current()[0].state, "pending");

  auto events = engine.evaluate(queue(170), t0 + 10s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].rule, "backlog");
  EXPECT_EQ(events[0].state, "firing");
  EXPECT_EQ(events[0].severity, "critical");
  EXPECT_EQ(events[0].summary, "queue above 100");
  EXPECT_EQ(events[0].value, 170);
  EXPECT_EQ(events[0].at, t0_ms + 10'000);
  EXPECT_TRUE(engine.evaluate(queue(180), t0 + 20s).empty()) << "firing is told once";
  EXPECT_EQ(engine.current()[0].state, "firing");
  EXPECT_EQ(engine.current()[0].value, 180);

  events = engine.evaluate(queue(50), t0 + 30s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].state, "resolved");
  EXPECT_EQ(events[0].value, 50);
  EXPECT_EQ(engine.current()[0].state, "inactive");
  EXPECT_EQ(engine.current()[0].since, t0_ms + 30'000);
  EXPECT_EQ(engine.history().size(), 2u);
}

TEST(alert_engine, a_blip_shorter_than_for_pages_nobody) {
  alert_engine engine{{backlog_rule(10s)}};
  EXPECT_TRUE(engine.evaluate(queue(150), t0).empty());
  EXPECT_TRUE(engine.evaluate(queue(10), t0 + 5s).empty()) << "pending to inactive is silent";
  // The wait starts over: 'for' counts from the latest time the condition became true.
  EXPECT_TRUE(engine.evaluate(queue(150), t0 + 6s).empty());
  EXPECT_TRUE(engine.evaluate(queue(150), t0 + 12s).empty());
  EXPECT_EQ(engine.evaluate(queue(150), t0 + 16s).size(), 1u);
}

TEST(alert_engine, zero_for_fires_at_once_and_missing_samples_resolve) {
  alert_engine engine{{backlog_rule(0ms)}};
  EXPECT_EQ(engine.current()[0].since, 0) << "not evaluated yet";
  auto events = engine.evaluate(queue(101), t0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].state, "firing");
  // The metric disappeared (its replica stopped): no matching sample means the condition is
  // false, so the alert resolves instead of staying up forever.
  events = engine.evaluate({{"other_metric", {}, 500}}, t0 + 1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].state, "resolved");
  EXPECT_TRUE(std::isnan(engine.current()[0].value));
  EXPECT_TRUE(to_json(engine.current()[0])["value"].is_null());
}

TEST(alert_engine, aggregate_modes) {
  const std::vector<sample> samples{{"q", {{"model", "a"}}, 1},
                                    {"q", {{"model", "b"}}, 5},
                                    {"q", {{"model", "c"}}, 3},
                                    {"q", {{"model", "d"}}, std::nan("")},
                                    {"other", {}, 100}};
  alert_rule r;
  r.metric = "q";
  const std::pair<aggregate_mode, double> expected[] = {{aggregate_mode::max, 5},
                                                        {aggregate_mode::min, 1},
                                                        {aggregate_mode::sum, 9},
                                                        {aggregate_mode::avg, 3}};
  for (auto [mode, value] : expected) {
    r.aggregate = mode;
    EXPECT_EQ(rule_value(r, samples), value) << to_string(mode) << " (NaN series skipped)";
  }
  r.metric = "absent";
  EXPECT_TRUE(std::isnan(rule_value(r, samples)));
}

TEST(alert_engine, labels_select_series) {
  const std::vector<sample> samples{{"q", {{"model", "a"}, {"node", "n1"}}, 500},
                                    {"q", {{"model", "b"}, {"node", "n1"}}, 20},
                                    {"q", {{"model", "b"}, {"node", "n2"}}, 30}};
  auto r = backlog_rule(0ms);
  r.metric = "q";
  r.labels = {{"model", "b"}};
  EXPECT_EQ(rule_value(r, samples), 30);
  alert_engine engine{{r}};
  EXPECT_TRUE(engine.evaluate(samples, t0).empty()) << "model a's 500 must not count";
  r.labels = {{"model", "b"}, {"node", "n1"}};
  EXPECT_EQ(rule_value(r, samples), 20);
  r.labels = {{"zone", "x"}};
  EXPECT_TRUE(std::isnan(rule_value(r, samples)));
}

TEST(alert_engine, quantile_rule_reads_buckets) {
  alert_rule r = backlog_rule(0ms);
  r.metric = "lat";
  r.quantile = 0.5;
  r.threshold = 1.2;
  const std::vector<sample> samples{{"lat_bucket", {{"le", "1"}}, 1},
                                    {"lat_bucket", {{"le", "2"}}, 3},
                                    {"lat_bucket", {{"le", "+Inf"}}, 4}};
  EXPECT_NEAR(rule_value(r, samples), 1.5, 1e-12);
  alert_engine engine{{r}};
  EXPECT_EQ(engine.evaluate(samples, t0).size(), 1u);
}

TEST(alert_engine, history_keeps_the_last_200_and_json_has_every_field) {
  alert_engine engine{{backlog_rule(0ms)}};
  for (int i = 0; i < 150; ++i) {
    engine.evaluate(queue(200), t0 + std::chrono::seconds{2 * i});
    engine.evaluate(queue(0), t0 + std::chrono::seconds{2 * i + 1});
  }
  ASSERT_EQ(engine.history().size(), alert_engine::history_limit);
  EXPECT_EQ(engine.history().back().state, "resolved");
  EXPECT_EQ(engine.history().back().at, t0_ms + 299'000);
  EXPECT_EQ(engine.history().front().at, t0_ms + 100'000) << "the oldest 100 events were dropped";

  const auto event = to_json(engine.history().back());
  EXPECT_EQ(event["rule"], "backlog");
  EXPECT_EQ(event["state"], "resolved");
  EXPECT_EQ(event["severity"], "critical");
  EXPECT_EQ(event["summary"], "queue above 100");
  EXPECT_EQ(event["value"], 0.0);
  EXPECT_EQ(event["at"], t0_ms + 299'000);
  const auto status = to_json(engine.current()[0]);
  EXPECT_EQ(status["state"], "inactive");
  EXPECT_EQ(status["since"], t0_ms + 299'000);
  EXPECT_EQ(status.size(), 6u);
}

} // namespace
