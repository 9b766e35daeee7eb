// A round's stages: forward one at a time only; a late step cannot move it back or skip ahead.
#include <gtest/gtest.h>

#include "feedback/core/round_stage.hpp"

using namespace llmos::feedback;

TEST(RoundStage, GoesForwardOneStageAtATime) {
  round_progress p;
  EXPECT_EQ(p.stage(), round_stage::preparing);
  EXPECT_FALSE(p.candidate_on_trial());
  for (auto next : {round_stage::training, round_stage::evaluating, round_stage::canary,
                    round_stage::deciding}) {
    ASSERT_TRUE(p.move_to(next)) << to_string(next);
    EXPECT_EQ(p.stage(), next);
  }
  EXPECT_TRUE(p.candidate_on_trial());
}

TEST(RoundStage, RefusesSkipsRepeatsAndMovesBack) {
  round_progress p;
  EXPECT_FALSE(p.move_to(round_stage::evaluating)); // skips training
  EXPECT_FALSE(p.move_to(round_stage::preparing));  // stays
  EXPECT_EQ(p.stage(), round_stage::preparing);
  ASSERT_TRUE(p.move_to(round_stage::training));
  ASSERT_TRUE(p.move_to(round_stage::evaluating));
  ASSERT_TRUE(p.move_to(round_stage::canary));
  EXPECT_TRUE(p.candidate_on_trial());
  EXPECT_FALSE(p.move_to(round_stage::training)); // a late fine-tune reply
  EXPECT_EQ(p.stage(), round_stage::canary);
}

TEST(RoundStage, NamesEveryStage) {
  EXPECT_STREQ(to_string(round_stage::preparing), "preparing");
  EXPECT_STREQ(to_string(round_stage::training), "training");
  EXPECT_STREQ(to_string(round_stage::evaluating), "evaluating");
  EXPECT_STREQ(to_string(round_stage::canary), "canary");
  EXPECT_STREQ(to_string(round_stage::deciding), "deciding");
}
