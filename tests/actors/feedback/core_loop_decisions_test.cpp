// The loop's decisions: every trigger and their order, the candidate's judgement both ways, the
// canary's wait / promote / roll back / time out, and a hold-out split that is stable and near
// its share.
#include <string>

#include <gtest/gtest.h>

#include "feedback/core/loop_decisions.hpp"

using namespace llmos::feedback;

namespace {

trigger_policy all_triggers() {
  return {.min_corrections = 50, .accuracy_below = 0.9, .min_labelled = 50, .psi_above = 0.25};
}

trigger_input quiet() {
  return {
      .corrections_since_round = 10, .labelled = 200, .window_accuracy = 0.95, .input_psi = 0.05};
}

TEST(should_trigger, nothing_when_all_is_well_or_all_triggers_are_off) {
  EXPECT_EQ(should_trigger(all_triggers(), quiet()), std::nullopt);
  const trigger_input bad{
      .corrections_since_round = 1000, .labelled = 1000, .window_accuracy = 0.1, .input_psi = 5};
  EXPECT_EQ(should_trigger(trigger_policy{}, bad), std::nullopt) << "every threshold 0 = off";
}

TEST(should_trigger, corrections) {
  auto in = quiet();
  in.corrections_since_round = 62;
  EXPECT_EQ(should_trigger(all_triggers(), in),
            "62 corrections since the last round (threshold 50)");
  in.corrections_since_round = 50;
  EXPECT_EQ(should_trigger(all_triggers(), in),
            "50 corrections since the last round (threshold 50)");
  in.corrections_since_round = 49;
  EXPECT_EQ(should_trigger(all_triggers(), in), std::nullopt);
}

TEST(should_trigger, window_accuracy_once_enough_is_labelled) {
  auto in = quiet();
  in.window_accuracy = 0.81;
  EXPECT_EQ(should_trigger(all_triggers(), in), "window accuracy 0.81 < 0.90 over 200 labelled");
  in.window_accuracy = 0.899;
  EXPECT_EQ(should_trigger(all_triggers(), in), "window accuracy 0.899 < 0.900 over 200 labelled")
      << "more digits where two would read as equal";
  in.window_accuracy = 0.9;
  EXPECT_EQ(should_trigger(all_triggers(), in), std::nullopt);
  in.window_accuracy = 0.5;
  in.labelled = 49;
  EXPECT_EQ(should_trigger(all_triggers(), in), std::nullopt) << "too few labelled to judge";
  in.labelled = 50;
  EXPECT_EQ(should_trigger(all_triggers(), in), "window accuracy 0.50 < 0.90 over 50 labelled");
}

TEST(should_trigger, input_drift) {
  auto in = quiet();
  in.input_psi = 0.31;
  EXPECT_EQ(should_trigger(all_triggers(), in), "input drift PSI 0.31 > 0.25");
  in.input_psi = 0.25;
  EXPECT_EQ(should_trigger(all_triggers(), in), std::nullopt) << "above, not at, the threshold";
}

TEST(should_trigger, the_first_reason_in_order_wins) {
  trigger_input in;
  in.corrections_since_round = 70;
  in.labelled = 100;
  in.window_accuracy = 0.6;
  in.input_psi = 0.4;
  EXPECT_EQ(should_trigger(all_triggers(), in),
            "70 corrections since the last round (threshold 50)");
  in.corrections_since_round = 0;
  EXPECT_EQ(should_trigger(all_triggers(), in), "window accuracy 0.60 < 0.90 over 100 labelled");
  in.window_accuracy = 0.95;
  EXPECT_EQ(should_trigger(all_triggers(), in), "input drift PSI 0.40 > 0.25");
}

TEST(judge_candidate, goes_to_canary_when_it_beats_production_without_forgetting) {
  const evaluate_policy p; // margin 0.02, max_heldout_drop 0.02
  const auto v = judge_candidate(p, 0.84, 0.78, 0.91, 0.92);
  EXPECT_EQ(v.what, verdict::go);
  EXPECT_EQ(v.why, "candidate goes to canary; feedback hold-out 0.84 vs production 0.78 (needs "
                   "+0.02), original held-out 0.91 vs 0.92 (may drop 0.02)");
  // Exactly the margin and exactly the allowed drop still pass, despite rounding in the sums.
  EXPECT_EQ(judge_candidate(p, 0.80, 0.78, 0.90, 0.92).what, verdict::go);
}

TEST(judge_candidate, stops_when_the_gain_is_too_small_or_the_old_data_suffers) {
  const evaluate_policy p;
  auto v = judge_candidate(p, 0.79, 0.78, 0.95, 0.92);
  EXPECT_EQ(v.what, verdict::stop);
  EXPECT_EQ(v.why, "candidate rejected: it does not beat production on the feedback hold-out by "
                   "the margin; feedback hold-out 0.79 vs production 0.78 (needs +0.02), "
                   "original held-out 0.95 vs 0.92 (may drop 0.02)");
  v = judge_candidate(p, 0.90, 0.78, 0.89, 0.92);
  EXPECT_EQ(v.what, verdict::stop);
  EXPECT_EQ(v.why.substr(0, 65),
            "candidate rejected: it loses too much on the original held-out da");
}

TEST(judge_canary, waits_for_enough_labelled_canary_feedback) {
  const canary_policy p; // min_labelled 40, margin 0, max_s 600
  const auto v = judge_canary(p, 10, 1.0, 100, 0.5, 30);
  EXPECT_EQ(v.what, verdict::wait);
  EXPECT_EQ(
      v.why,
      "waiting for feedback: 10 of 40 labelled canary outcomes, 100 of production after 30 s");
  EXPECT_EQ(judge_canary(p, 50, 0.9, 0, 0, 30).what, verdict::wait)
      << "no production outcomes to compare with yet";
}

TEST(judge_canary, rolls_back_when_feedback_stays_too_little) {
  const canary_policy p;
  const auto v = judge_canary(p, 12, 1.0, 100, 0.5, 600);
  EXPECT_EQ(v.what, verdict::stop);
  EXPECT_EQ(v.why, "too little canary feedback after 600 s (limit 600 s): 12 of 40 labelled "
                   "canary outcomes, 100 of production; rolling back");
  EXPECT_EQ(judge_canary(p, 12, 1.0, 100, 0.5, 599.9).what, verdict::wait);
}

TEST(judge_canary, promotes_or_rolls_back_on_accuracy) {
  canary_policy p;
  auto v = judge_canary(p, 45, 0.91, 230, 0.88, 100);
  EXPECT_EQ(v.what, verdict::go);
  EXPECT_EQ(v.why, "promote: canary accuracy 0.91 over 45 labelled vs production 0.88 over 230 "
                   "(needs +0.00)");
  v = judge_canary(p, 45, 0.85, 230, 0.88, 100);
  EXPECT_EQ(v.what, verdict::stop);
  EXPECT_EQ(v.why, "roll back: canary accuracy 0.85 over 45 labelled vs production 0.88 over 230 "
                   "(needs +0.00)");
  EXPECT_EQ(judge_canary(p, 40, 0.88, 230, 0.88, 100).what, verdict::go) << "equal is enough";
  p.margin = 0.05;
  EXPECT_EQ(judge_canary(p, 45, 0.91, 230, 0.88, 100).what, verdict::stop);
  EXPECT_EQ(judge_canary(p, 45, 0.93, 230, 0.88, 100).what, verdict::go);
  // Once judged, the time limit does not matter.
  EXPECT_EQ(judge_canary(p, 45, 0.93, 230, 0.88, 10'000).what, verdict::go);
}

TEST(split_for_holdout, is_stable_and_near_its_share) {
  // Pinned: the same correction must land on the same side in every round, on every machine.
  EXPECT_EQ(split_for_holdout("req-1", 0.3), split_for_holdout("req-1", 0.3));
  std::size_t eval = 0;
  for (int i = 0; i < 10'000; ++i)
    eval += split_for_holdout("req-" + std::to_string(i), 0.3) == "eval" ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(eval) / 10'000, 0.3, 0.02);
  EXPECT_EQ(eval, 2999u) << "pinned: a change of hash or seed would reshuffle every hold-out";
  for (int i = 0; i < 100; ++i) {
    const auto id = "x" + std::to_string(i);
    EXPECT_EQ(split_for_holdout(id, 0.0), "train");
    EXPECT_EQ(split_for_holdout(id, 1.0), "eval");
    // A larger share only moves ids from train to eval, never back.
    if (split_for_holdout(id, 0.2) == "eval") {
      EXPECT_EQ(split_for_holdout(id, 0.5), "eval");
    }
  }
}

} // namespace
