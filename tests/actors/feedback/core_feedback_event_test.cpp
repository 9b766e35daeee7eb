// The feedback log's two record kinds: both round-trip through JSON, and every malformed field
// is refused with a message that names where the record came from and the field.
#include <string>

#include <gtest/gtest.h>

#include "feedback/core/feedback_event.hpp"
#include "llmos/messages/error.hpp"
#include "test_support.hpp"

using namespace llmos::feedback;
using llmos::feedback::testing::context_of;
using json = nlohmann::json;

namespace {

served_request sample_request() {
  served_request r;
  r.id = "srv-1#0";
  r.model = "spam-bag";
  r.version = 3;
  r.text = "win a free cruise";
  r.label = "spam";
  r.confidence = 0.875;
  r.time = 1700000000.5;
  return r;
}

feedback_item sample_feedback() {
  feedback_item f;
  f.request_id = "srv-1#0";
  f.model = "spam-bag";
  f.rating = -1;
  f.label = "ham";
  f.completion = "";
  f.comment = "it was my aunt";
  f.time = 1700000100.25;
  return f;
}

std::string served_refusal(const json& j) {
  auto r = served_from_json(j, "request");
  return r ? std::string{} : context_of(r.error());
}

std::string feedback_refusal(const json& j) {
  auto f = feedback_from_json(j, "feedback");
  if (!f) {
    EXPECT_EQ(f.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  }
  return f ? std::string{} : context_of(f.error());
}

TEST(feedback_event, a_served_request_round_trips) {
  const auto r = sample_request();
  const auto j = to_json(r);
  EXPECT_EQ(j["kind"], "request");
  EXPECT_EQ(j["id"], "srv-1#0");
  EXPECT_EQ(j["version"], 3);
  auto back = served_from_json(json::parse(j.dump()), "request");
  ASSERT_TRUE(back) << context_of(back.error());
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->model, r.model);
  EXPECT_EQ(back->version, r.version);
  EXPECT_EQ(back->text, r.text);
  EXPECT_EQ(back->label, r.label);
  EXPECT_EQ(back->confidence, r.confidence);
  EXPECT_EQ(back->completion, "");
  EXPECT_EQ(back->time, r.time);
}

TEST(feedback_event, feedback_round_trips) {
  const auto f = sample_feedback();
  const auto j = to_json(f);
  EXPECT_EQ(j["kind"], "feedback");
  auto back = feedback_from_json(json::parse(j.dump()), "feedback");
  ASSERT_TRUE(back) << context_of(back.error());
  EXPECT_EQ(back->request_id, f.request_id);
  EXPECT_EQ(back->model, f.model);
  EXPECT_EQ(back->rating, -1);
  EXPECT_EQ(back->label, "ham");
  EXPECT_EQ(back->completion, "");
  EXPECT_EQ(back->comment, f.comment);
  EXPECT_EQ(back->time, f.time);
}

TEST(feedback_event, event_from_json_dispatches_on_kind) {
  auto r = event_from_json(to_json(sample_request()), "log:1");
  ASSERT_TRUE(r);
  ASSERT_TRUE(std::holds_alternative<served_request>(*r));
  EXPECT_EQ(std::get<served_request>(*r).version, 3u);
  auto f = event_from_json(to_json(sample_feedback()), "log:2");
  ASSERT_TRUE(f);
  ASSERT_TRUE(std::holds_alternative<feedback_item>(*f));
  EXPECT_EQ(std::get<feedback_item>(*f).label, "ham");
  auto bad = event_from_json(json{{"kind", "vote"}}, "log:3");
  ASSERT_FALSE(bad);
  EXPECT_EQ(context_of(bad.error()),
            "log:3: field 'kind' must be \"request\" or \"feedback\", got \"vote\"");
  bad = event_from_json(json::array(), "log:4");
  EXPECT_EQ(context_of(bad.error()),
            "log:4: field 'kind' must be \"request\" or \"feedback\", got nothing");
}

TEST(feedback_event, minimal_records_take_defaults_and_unknown_keys_are_ignored) {
  auto r = served_from_json(json{{"id", "a"}, {"model", "m"}, {"version", 1}, {"extra", true}},
                            "request");
  ASSERT_TRUE(r) << context_of(r.error());
  EXPECT_EQ(r->text, "");
  EXPECT_EQ(r->confidence, 0.0);
  auto f = feedback_from_json(json{{"request_id", "a"}, {"label", "ham"}, {"future", 1}}, "fb");
  ASSERT_TRUE(f) << context_of(f.error());
  EXPECT_EQ(f->rating, 0);
  EXPECT_EQ(f->model, "");
  auto up = feedback_from_json(json{{"request_id", "a"}, {"rating", 1}}, "fb");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->rating, 1);
  auto better = feedback_from_json(json{{"request_id", "a"}, {"completion", "Paris."}}, "fb");
  ASSERT_TRUE(better);
  EXPECT_EQ(better->completion, "Paris.");
}

TEST(feedback_event, malformed_requests_are_refused_naming_the_field) {
  json ok = to_json(sample_request());
  auto with = [&](const std::string& key, const json& value) {
    json j = ok;
    j[key] = value;
    return j;
  };
  auto without = [&](const std::string& key) {
    json j = ok;
    j.erase(key);
    return j;
  };
  EXPECT_EQ(served_refusal(json::array()), "request: must be a JSON object, got []");
  EXPECT_EQ(served_refusal(without("id")),
            "request: field 'id' is missing; every request record names its id");
  EXPECT_EQ(served_refusal(with("id", "")),
            "request: field 'id' must not be empty; feedback refers to the request by it");
  EXPECT_EQ(served_refusal(with("id", 7)), "request: field 'id' must be a string, got 7");
  EXPECT_EQ(served_refusal(without("model")),
            "request: field 'model' is missing; name the model that answered");
  EXPECT_EQ(served_refusal(without("version")),
            "request: field 'version' is missing; give the model version that answered");
  EXPECT_EQ(served_refusal(with("version", -1)),
            "request: field 'version' must be a whole number from 0 to 4294967295, got -1");
  EXPECT_EQ(served_refusal(with("version", "3")),
            "request: field 'version' must be a whole number from 0 to 4294967295, got \"3\"");
  EXPECT_EQ(served_refusal(with("confidence", 1.5)),
            "request: field 'confidence' must be a number from 0 to 1, got 1.5");
  EXPECT_EQ(served_refusal(with("text", json::array({1}))),
            "request: field 'text' must be a string, got [1]");
  EXPECT_EQ(served_refusal(with("kind", "feedback")),
            "request: field 'kind' must be \"request\", got \"feedback\"");
  EXPECT_EQ(served_refusal(with("text", std::string(100, 'x'))), "");
  // Long values are shortened in messages.
  EXPECT_EQ(served_refusal(with("time", std::string(100, 'y'))),
            "request: field 'time' must be a number of seconds since the epoch, got \"" +
                std::string(56, 'y') + "...");
}

TEST(feedback_event, malformed_feedback_is_refused_naming_the_field) {
  const json ok{{"request_id", "r1"}, {"label", "ham"}};
  auto with = [&](const std::string& key, const json& value) {
    json j = ok;
    j[key] = value;
    return j;
  };
  EXPECT_EQ(feedback_refusal(with("rating", 5)),
            "feedback: field 'rating' must be -1, 0 or 1, got 5");
  EXPECT_EQ(feedback_refusal(with("rating", 1.0)),
            "feedback: field 'rating' must be -1, 0 or 1, got 1.0");
  EXPECT_EQ(feedback_refusal(with("rating", "up")),
            "feedback: field 'rating' must be -1, 0 or 1, got \"up\"");
  EXPECT_EQ(feedback_refusal(json{{"label", "ham"}}),
            "feedback: field 'request_id' is missing; name the request the feedback is about");
  EXPECT_EQ(feedback_refusal(with("request_id", "")),
            "feedback: field 'request_id' must not be empty; name the request the feedback is "
            "about");
  EXPECT_EQ(feedback_refusal(with("label", 1)), "feedback: field 'label' must be a string, got 1");
  EXPECT_EQ(feedback_refusal(with("kind", "request")),
            "feedback: field 'kind' must be \"feedback\", got \"request\"");
  EXPECT_EQ(feedback_refusal(json{{"request_id", "r1"}, {"rating", 0}, {"comment", "hm"}}),
            "feedback: the feedback says nothing; give at least one of 'rating' (-1 or 1), "
            "'label' or 'completion'");
  EXPECT_EQ(feedback_refusal(json{{"request_id", "r1"}, {"label", ""}}),
            "feedback: the feedback says nothing; give at least one of 'rating' (-1 or 1), "
            "'label' or 'completion'");
}

} // namespace
