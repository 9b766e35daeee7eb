// One version's analysis on a small hand-made sequence whose accuracy, window accuracy,
// confusion, calibration and ECE are worked out by hand; drift against the first requests and
// against a supplied baseline.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "feedback/core/version_stats.hpp"

using namespace llmos::feedback;

namespace {

served_request request(const std::string& id, const std::string& label, double confidence,
                       const std::string& text = "some text") {
  served_request r;
  r.id = id;
  r.model = "spam-bag";
  r.version = 1;
  r.text = text;
  r.label = label;
  r.confidence = confidence;
  return r;
}

feedback_item labelled(const std::string& id, const std::string& label, int rating = 0) {
  feedback_item f;
  f.request_id = id;
  f.label = label;
  f.rating = rating;
  return f;
}

feedback_item rated(const std::string& id, int rating) {
  return labelled(id, "", rating);
}

// The sequence (window 4):
//   r1 spam 0.95, truth spam: correct  (bin 9)
//   r2 ham  0.85, truth spam: wrong    (bin 8)
//   r3 spam 0.65, truth spam: correct  (bin 6)
//   r4 ham  0.55, truth ham:  correct  (bin 5)
//   r5 spam 0.92, truth ham:  wrong    (bin 9)
//   r6 spam 0.15: thumbs up, no label; r2: thumbs down, no label
class version_stats_test : public ::testing::Test {
protected:
  void SetUp() override {
    for (const auto& r :
         {request("r1", "spam", 0.95), request("r2", "ham", 0.85), request("r3", "spam", 0.65),
          request("r4", "ham", 0.55), request("r5", "spam", 0.92), request("r6", "spam", 0.15)})
      stats_.on_request(r);
    stats_.on_feedback(labelled("r1", "spam"), request("r1", "spam", 0.95));
    stats_.on_feedback(labelled("r2", "spam"), request("r2", "ham", 0.85));
    stats_.on_feedback(labelled("r3", "spam"), request("r3", "spam", 0.65));
    stats_.on_feedback(labelled("r4", "ham"), request("r4", "ham", 0.55));
  }

  void finish() {
    stats_.on_feedback(labelled("r5", "ham"), request("r5", "spam", 0.92));
    stats_.on_feedback(rated("r6", 1), request("r6", "spam", 0.15));
    stats_.on_feedback(rated("r2", -1), request("r2", "ham", 0.85));
  }

  version_stats stats_{"spam-bag", 1, 4, 500};
};

TEST_F(version_stats_test, counts_requests_labels_corrections_and_ratings) {
  finish();
  EXPECT_EQ(stats_.model(), "spam-bag");
  EXPECT_EQ(stats_.version(), 1u);
  EXPECT_EQ(stats_.requests(), 6u);
  EXPECT_EQ(stats_.labelled(), 5u);
  EXPECT_EQ(stats_.corrections(), 2u);
  EXPECT_EQ(stats_.thumbs_up(), 1u);
  EXPECT_EQ(stats_.thumbs_down(), 1u);
  EXPECT_DOUBLE_EQ(stats_.accuracy(), 3.0 / 5.0);
}

TEST_F(version_stats_test, window_accuracy_covers_the_last_labelled_outcomes) {
  // r1..r4: three of four correct.
  EXPECT_EQ(stats_.window_size_now(), 4u);
  EXPECT_DOUBLE_EQ(stats_.window_accuracy(), 0.75);
  finish();
  // r1 (correct) slid out, r5 (wrong) came in: r2 wrong, r3 right, r4 right, r5 wrong.
  EXPECT_EQ(stats_.window_size_now(), 4u);
  EXPECT_DOUBLE_EQ(stats_.window_accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(stats_.accuracy(), 0.6) << "the overall accuracy keeps everything";
}

TEST_F(version_stats_test, confusion_is_by_truth_then_prediction) {
  finish();
  const std::map<std::string, std::map<std::string, uint64_t>> expected{
      {"spam", {{"spam", 2}, {"ham", 1}}}, {"ham", {{"ham", 1}, {"spam", 1}}}};
  EXPECT_EQ(stats_.confusion(), expected);
}

TEST_F(version_stats_test, calibration_and_ece) {
  finish();
  const auto bins = stats_.calibration();
  ASSERT_EQ(bins.size(), 10u);
  for (std::size_t i : {0, 1, 2, 3, 4, 7})
    EXPECT_EQ(bins[i].count, 0u) << "bin " << i;
  EXPECT_EQ(bins[9].count, 2u);
  EXPECT_DOUBLE_EQ(bins[9].mean_confidence, (0.95 + 0.92) / 2);
  EXPECT_DOUBLE_EQ(bins[9].accuracy, 0.5);
  EXPECT_EQ(bins[8].count, 1u);
  EXPECT_DOUBLE_EQ(bins[8].mean_confidence, 0.85);
  EXPECT_DOUBLE_EQ(bins[8].accuracy, 0.0);
  EXPECT_EQ(bins[6].count, 1u);
  EXPECT_DOUBLE_EQ(bins[6].accuracy, 1.0);
  EXPECT_EQ(bins[5].count, 1u);
  EXPECT_DOUBLE_EQ(bins[5].mean_confidence, 0.55);
  // 2/5 |0.5 - 0.935| + 1/5 |0 - 0.85| + 1/5 |1 - 0.65| + 1/5 |1 - 0.55|
  //   = 0.174 + 0.17 + 0.07 + 0.09 = 0.504
  EXPECT_NEAR(stats_.ece(), 0.504, 1e-12);
}

TEST(version_stats, confidence_one_and_zero_fall_in_the_end_bins) {
  version_stats s{"m", 1};
  s.on_feedback(labelled("a", "x"), request("a", "x", 1.0));
  s.on_feedback(labelled("b", "x"), request("b", "y", 0.0));
  s.on_feedback(labelled("c", "x"), request("c", "x", 0.1));
  const auto bins = s.calibration();
  EXPECT_EQ(bins[9].count, 1u);
  EXPECT_EQ(bins[0].count, 1u);
  EXPECT_EQ(bins[1].count, 1u);
  // |1 - 1| + |0 - 0| + |1 - 0.1|, each a third.
  EXPECT_NEAR(s.ece(), 0.9 / 3, 1e-12);
}

TEST(version_stats, nothing_labelled_reads_zero) {
  version_stats s{"m", 1};
  EXPECT_EQ(s.accuracy(), 0.0);
  EXPECT_EQ(s.window_accuracy(), 0.0);
  EXPECT_EQ(s.ece(), 0.0);
  EXPECT_EQ(s.to_json()["labelled"], 0);
}

// 50 short spam texts form the baseline; then 50 long ham texts fill the recent window.
TEST(version_stats, drift_of_inputs_and_predictions_against_the_first_requests) {
  version_stats s{"m", 1, 50, 50};
  const std::string short_text = "buy cheap pills now";                            // 4 words: bin 3
  const std::string long_text = "dear team the meeting moved to thursday at noon"; // 9: bin 4
  for (int i = 0; i < 49; ++i)
    s.on_request(request("s" + std::to_string(i), "spam", 0.9, short_text));
  EXPECT_FALSE(s.drift_ready()) << "49 requests are too few to compare";
  EXPECT_EQ(s.input_psi_length(), 0.0);
  s.on_request(request("s49", "spam", 0.9, short_text));
  EXPECT_TRUE(s.drift_ready());
  EXPECT_EQ(s.input_psi(), 0.0) << "the window is the baseline so far";
  for (int i = 0; i < 50; ++i)
    s.on_request(request("l" + std::to_string(i), "ham", 0.9, long_text));
  // Baseline all in length bin 3, window all in bin 4: 2 (1 - 1e-4) ln(1e4).
  EXPECT_NEAR(s.input_psi_length(), 18.41883867587797, 1e-9);
  EXPECT_NEAR(s.prediction_psi(), 18.41883867587797, 1e-9);
  EXPECT_GT(s.input_psi_tokens(), 5.0);
  EXPECT_EQ(s.input_psi(), std::max(s.input_psi_length(), s.input_psi_tokens()));
  const auto j = s.to_json();
  EXPECT_EQ(j["drift"]["baseline_requests"], 50);
  EXPECT_EQ(j["drift"]["recent_requests"], 50);
  EXPECT_EQ(j["requests"], 100);
}

TEST(version_stats, a_supplied_baseline_replaces_the_first_requests) {
  version_stats s{"m", 1, 50, 500};
  text_profile training;
  label_histogram training_labels;
  for (int i = 0; i < 10; ++i) {
    training.add("dear team the meeting moved");
    training_labels.add("ham");
  }
  s.set_baseline(training, training_labels);
  for (int i = 0; i < 50; ++i)
    s.on_request(request("r" + std::to_string(i), "ham", 0.9, "dear team the meeting moved"));
  EXPECT_TRUE(s.drift_ready());
  EXPECT_EQ(s.input_psi_length(), 0.0);
  EXPECT_EQ(s.input_psi_tokens(), 0.0);
  EXPECT_EQ(s.prediction_psi(), 0.0);
  EXPECT_EQ(s.to_json()["drift"]["baseline_requests"], 10) << "requests did not join it";
}

TEST(version_stats, language_models_have_no_prediction_drift) {
  version_stats s{"lm", 1, 50, 50};
  for (int i = 0; i < 100; ++i)
    s.on_request(request("r" + std::to_string(i), "", 0, i < 50 ? "a b" : "a b c d e f g h"));
  EXPECT_EQ(s.prediction_psi(), 0.0);
  EXPECT_GT(s.input_psi_length(), 1.0);
}

} // namespace
