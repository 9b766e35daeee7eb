// All versions' analysis: feedback is joined to its request by id and counted for the version
// that answered; unknown and forgotten ids are refused by name; memory stays bounded; the
// corrections counter the loop reads for "since the last round".
#include <string>

#include <gtest/gtest.h>

#include "feedback/core/version_stats.hpp"
#include "llmos/messages/error.hpp"
#include "test_support.hpp"

using namespace llmos::feedback;
using llmos::feedback::testing::context_of;

namespace {

served_request request(const std::string& id, uint32_t version, const std::string& label,
                       const std::string& model = "spam-bag") {
  served_request r;
  r.id = id;
  r.model = model;
  r.version = version;
  r.text = "text of " + id;
  r.label = label;
  r.confidence = 0.8;
  return r;
}

feedback_item label(const std::string& id, const std::string& truth) {
  feedback_item f;
  f.request_id = id;
  f.label = truth;
  return f;
}

TEST(feedback_analysis, joins_feedback_to_the_version_that_answered) {
  feedback_analysis a;
  a.on_request(request("a", 1, "spam"));
  a.on_request(request("b", 2, "spam"));
  a.on_request(request("c", 2, "ham"));
  auto joined = a.on_feedback(label("b", "ham"));
  ASSERT_TRUE(joined) << context_of(joined.error());
  EXPECT_EQ(joined->id, "b");
  EXPECT_EQ(joined->version, 2u);
  EXPECT_EQ(joined->text, "text of b");
  ASSERT_TRUE(a.on_feedback(label("c", "ham")));
  ASSERT_TRUE(a.find("spam-bag", 1) && a.find("spam-bag", 2));
  EXPECT_EQ(a.find("spam-bag", 1)->requests(), 1u);
  EXPECT_EQ(a.find("spam-bag", 1)->labelled(), 0u);
  EXPECT_EQ(a.find("spam-bag", 2)->requests(), 2u);
  EXPECT_EQ(a.find("spam-bag", 2)->labelled(), 2u);
  EXPECT_EQ(a.find("spam-bag", 2)->corrections(), 1u);
  EXPECT_EQ(a.find("spam-bag", 3), nullptr);
  EXPECT_EQ(a.find("other", 1), nullptr);
}

TEST(feedback_analysis, unknown_ids_and_other_models_are_refused) {
  feedback_analysis a;
  a.on_request(request("a", 1, "spam"));
  auto unknown = a.on_feedback(label("nope", "ham"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), static_cast<uint8_t>(llmos::error_code::not_found));
  EXPECT_EQ(context_of(unknown.error()),
            "feedback for unknown request 'nope' (not logged, or older than the last 100000)");
  auto wrong_model = label("a", "ham");
  wrong_model.model = "digits";
  auto refused = a.on_feedback(wrong_model);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_EQ(context_of(refused.error()),
            "feedback names model 'digits' but request 'a' was served by 'spam-bag'");
  EXPECT_EQ(a.find("spam-bag", 1)->labelled(), 0u) << "refused feedback is not counted";
}

TEST(feedback_analysis, forgets_the_oldest_requests_beyond_its_bound) {
  feedback_analysis a{200, 500, 3};
  for (const char* id : {"r1", "r2", "r3", "r4"})
    a.on_request(request(id, 1, "spam"));
  EXPECT_EQ(a.remembered(), 3u);
  auto old = a.on_feedback(label("r1", "ham"));
  ASSERT_FALSE(old);
  EXPECT_EQ(context_of(old.error()),
            "feedback for unknown request 'r1' (not logged, or older than the last 3)");
  // r2 logged again (by version 2) is the newest now: r3 and r4 go first.
  a.on_request(request("r2", 2, "ham"));
  a.on_request(request("r5", 1, "spam"));
  a.on_request(request("r6", 1, "spam"));
  EXPECT_EQ(a.remembered(), 3u);
  EXPECT_FALSE(a.on_feedback(label("r3", "ham")));
  EXPECT_FALSE(a.on_feedback(label("r4", "ham")));
  auto r2 = a.on_feedback(label("r2", "ham"));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->version, 2u);
  EXPECT_TRUE(a.on_feedback(label("r5", "ham")));
  EXPECT_TRUE(a.on_feedback(label("r6", "ham")));
}

TEST(feedback_analysis, one_id_logged_over_and_over_stays_bounded) {
  feedback_analysis a{200, 500, 2};
  for (int i = 0; i < 1000; ++i)
    a.on_request(request("same", 1, "spam"));
  a.on_request(request("other", 1, "spam"));
  EXPECT_EQ(a.remembered(), 2u);
  EXPECT_TRUE(a.on_feedback(label("same", "spam")));
  EXPECT_TRUE(a.on_feedback(label("other", "spam")));
}

TEST(feedback_analysis, counts_corrections_per_model_since_a_mark) {
  feedback_analysis a;
  for (int i = 0; i < 6; ++i)
    a.on_request(request("s" + std::to_string(i), 1, "spam"));
  a.on_request(request("d0", 1, "7", "digits"));
  ASSERT_TRUE(a.on_feedback(label("s0", "ham")));
  ASSERT_TRUE(a.on_feedback(label("s1", "spam"))) << "a confirmation is no correction";
  ASSERT_TRUE(a.on_feedback(label("d0", "1")));
  EXPECT_EQ(a.corrections_total("spam-bag"), 1u);
  EXPECT_EQ(a.corrections_total("digits"), 1u);
  EXPECT_EQ(a.corrections_total("unknown"), 0u);
  const auto mark = a.corrections_total("spam-bag");
  ASSERT_TRUE(a.on_feedback(label("s2", "ham")));
  ASSERT_TRUE(a.on_feedback(label("s3", "ham")));
  feedback_item thumbs;
  thumbs.request_id = "s4";
  thumbs.rating = -1;
  ASSERT_TRUE(a.on_feedback(thumbs));
  EXPECT_EQ(a.corrections_since("spam-bag", mark), 2u);
  EXPECT_EQ(a.corrections_since("spam-bag", 99), 0u) << "a mark from the future reads 0";
}

TEST(feedback_analysis, lists_a_models_versions_in_order) {
  feedback_analysis a;
  a.on_request(request("x", 3, "spam"));
  a.on_request(request("y", 1, "spam"));
  a.on_request(request("z", 2, "spam", "alpha"));
  a.on_request(request("w", 1, "spam", "zulu"));
  const auto versions = a.of_model("spam-bag");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0]->version(), 1u);
  EXPECT_EQ(versions[1]->version(), 3u);
  EXPECT_TRUE(a.of_model("nobody").empty());
  EXPECT_EQ(a.models(), (std::vector<std::string>{"alpha", "spam-bag", "zulu"}));
  a.stats("spam-bag", 4);
  EXPECT_EQ(a.of_model("spam-bag").size(), 3u) << "stats() creates an empty analysis";
  const auto j = a.to_json();
  EXPECT_EQ(j["versions"].size(), 5u);
  EXPECT_EQ(j["remembered"], 4);
}

} // namespace
