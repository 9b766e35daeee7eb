// The feedback analyst's conversation on one node, one message at a time (node_fixture.hpp): a
// server's sampled requests arrive as log messages, feedback joins them by request id and is
// acknowledged once durable (at once with fsync every, on the next tick when batched), refused
// records name the field and never enter the log, and an analyst started again on the same root
// replays its log to the same analysis. The same analyst behind a real server and the HTTP
// gateway is tested across processes in tests/nodes/feedback_test.cpp.
#include <memory>
#include <optional>
#include <string>

#include <caf/send.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../node_fixture.hpp"
#include "llmos/messages/feedback.hpp"

namespace llmos {
namespace {

using nlohmann::json;

class feedback_actor_test : public test::node_fixture {
protected:
  feedback_actor spawn_analyst(const std::string& fsync = "every") {
    return spawn_kind<feedback_actor>("feedback", "fb",
                                      {{"root", (root_ / "fb").string()}, {"fsync", fsync}});
  }

  /// Ten requests served by m version 1: ids r0..r9, alternately labelled a and b.
  void serve_ten(const feedback_actor& fb) {
    json served = json::array();
    for (int i = 0; i < 10; ++i)
      served.push_back({{"id", "r" + std::to_string(i)},
                        {"model", "m"},
                        {"version", 1},
                        {"text", "river garden " + std::to_string(i)},
                        {"label", i % 2 ? "b" : "a"},
                        {"confidence", 0.9}});
    caf::anon_send(fb, log_atom::value, served.dump());
    run();
  }

  caf::expected<json> feedback(const feedback_actor& fb, const json& record) {
    auto ack = ask<std::string>(fb, feedback_atom::value, record.dump());
    if (!ack)
      return std::move(ack.error());
    return json::parse(*ack);
  }

  /// Version 1 of m in the analysis (null when absent).
  json version_one(const feedback_actor& fb) {
    auto status = ask<std::string>(fb, status_atom::value);
    EXPECT_TRUE(status) << describe(status.error());
    if (!status)
      return {};
    const auto parsed = json::parse(*status); // named: a temporary would end before the loop
    for (const auto& v : parsed["analysis"]["versions"])
      if (v.value("version", 0) == 1)
        return v;
    return {};
  }

  /// Feedback on r0..r5: the first four confirm the served label, the last two correct it.
  void judge_six(const feedback_actor& fb) {
    for (int i = 0; i < 6; ++i) {
      const std::string served = i % 2 ? "b" : "a";
      const std::string truth = i < 4 ? served : (served == "a" ? "b" : "a");
      auto ack = feedback(fb, {{"request_id", "r" + std::to_string(i)}, {"label", truth}});
      ASSERT_TRUE(ack) << describe(ack.error());
      EXPECT_EQ(ack->value("version", 0), 1) << ack->dump();
      EXPECT_EQ(ack->value("sequence", -1), i + 1) << "record 0: the served requests";
    }
  }
};

TEST_F(feedback_actor_test, feedback_joins_served_requests_and_is_durable_when_answered) {
  auto fb = spawn_analyst();
  serve_ten(fb);
  judge_six(fb);
  auto ack = feedback(fb, {{"request_id", "r6"}, {"rating", 1}});
  ASSERT_TRUE(ack) << describe(ack.error());
  EXPECT_TRUE(ack->value("durable", false)) << "fsync every: on disk before the answer";
  const auto v = version_one(fb);
  EXPECT_EQ(v.value("labelled", 0), 6) << v.dump();
  EXPECT_EQ(v.value("corrections", 0), 2) << v.dump();
  EXPECT_NEAR(v.value("accuracy", 0.0), 4.0 / 6.0, 1e-9) << v.dump();
}

TEST_F(feedback_actor_test, refused_records_name_the_field_and_are_not_logged) {
  auto fb = spawn_analyst();
  serve_ten(fb);
  auto unknown =
      expect_error(feedback(fb, {{"request_id", "nope"}, {"label", "a"}}), error_code::not_found);
  EXPECT_NE(unknown.find("nope"), std::string::npos) << unknown;
  auto rating =
      expect_error(feedback(fb, {{"request_id", "r1"}, {"rating", 5}}), error_code::bad_params);
  EXPECT_NE(rating.find("rating"), std::string::npos) << rating;
  auto empty = expect_error(feedback(fb, {{"request_id", "r1"}}), error_code::bad_params);
  EXPECT_NE(empty.find("says nothing"), std::string::npos) << empty;
  auto text = ask<std::string>(fb, feedback_atom::value, std::string{"[1, 2"});
  EXPECT_NE(expect_error(text, error_code::bad_params).find("not a JSON object"),
            std::string::npos);
  // None of them entered the log: the next accepted record follows the served requests (0).
  auto ack = feedback(fb, {{"request_id", "r1"}, {"label", "b"}});
  ASSERT_TRUE(ack) << describe(ack.error());
  EXPECT_EQ(ack->value("sequence", -1), 1) << ack->dump();
}

TEST_F(feedback_actor_test, batched_feedback_is_answered_once_the_tick_syncs_it) {
  auto fb = spawn_analyst("batched");
  serve_ten(fb);
  auto pending = std::make_shared<std::optional<std::string>>();
  sys_.spawn([=](caf::event_based_actor* self) {
    self->request(fb, caf::infinite, feedback_atom::value,
                  json{{"request_id", "r0"}, {"label", "a"}}.dump())
        .then([=](std::string& ack) { *pending = ack; }, [](caf::error&) {});
  });
  run();
  EXPECT_FALSE(*pending) << "not on disk yet: no answer";
  sched_.trigger_timeouts(); // the analyst's tick: the batch is synced
  run();
  ASSERT_TRUE(*pending);
  EXPECT_TRUE(json::parse(**pending).value("durable", false)) << **pending;
}

TEST_F(feedback_actor_test, an_analyst_started_again_replays_its_log_to_the_same_analysis) {
  auto fb = spawn_analyst();
  serve_ten(fb);
  judge_six(fb);
  const auto before = version_one(fb);
  stop_actor("fb");
  auto again = spawn_analyst();
  const auto after = version_one(again);
  EXPECT_EQ(after.value("labelled", 0), 6) << after.dump();
  EXPECT_EQ(after.value("corrections", 0), before.value("corrections", -1)) << after.dump();
  EXPECT_EQ(after.value("accuracy", 0.0), before.value("accuracy", -1.0)) << after.dump();
  // The requests were replayed too: feedback on one not judged before still joins.
  auto late = feedback(again, {{"request_id", "r9"}, {"label", "b"}});
  ASSERT_TRUE(late) << describe(late.error());
  EXPECT_EQ(late->value("sequence", -1), 7) << late->dump();
}

} // namespace
} // namespace llmos
