// Evaluation metrics against a hand-computed example, and perplexity of a uniform model.
#include <cmath>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/metrics.hpp"

namespace {

using llmos::model::classify_metrics;

// Three classes, ten examples. By hand:
//   confusion [truth][predicted] = [[3,1,0],[0,1,1],[1,0,3]], 7 correct of 10;
//   class 0: tp 3 fp 1 fn 1 -> F1 6/8; class 1: tp 1 fp 1 fn 1 -> 2/4; class 2: tp 3 fp 1 fn 1.
const std::vector<int64_t> truth{0, 0, 0, 1, 1, 2, 2, 2, 2, 0};
const std::vector<int64_t> predicted{0, 1, 0, 1, 2, 2, 2, 0, 2, 0};

TEST(metrics, hand_computed_example) {
  auto m = classify_metrics(truth, predicted, 3);
  ASSERT_TRUE(m) << llmos::describe(m.error());
  EXPECT_EQ(m->count, 10u);
  EXPECT_NEAR(m->accuracy, 0.7, 1e-12);
  const std::vector<std::vector<uint64_t>> confusion{{3, 1, 0}, {0, 1, 1}, {1, 0, 3}};
  EXPECT_EQ(m->confusion, confusion);
  ASSERT_EQ(m->f1.size(), 3u);
  EXPECT_NEAR(m->f1[0], 0.75, 1e-12);
  EXPECT_NEAR(m->f1[1], 0.5, 1e-12);
  EXPECT_NEAR(m->f1[2], 0.75, 1e-12);
  EXPECT_NEAR(m->macro_f1, 2.0 / 3.0, 1e-9);
}

TEST(metrics, macro_f1_skips_classes_nobody_saw) {
  // A fourth class in neither truth nor predictions does not drag the average down...
  auto m = classify_metrics(truth, predicted, 4);
  ASSERT_TRUE(m);
  EXPECT_NEAR(m->macro_f1, 2.0 / 3.0, 1e-9);
  EXPECT_EQ(m->f1[3], 0.0);
  // ...but a class that is only predicted does (its F1 is 0).
  auto wrong = predicted;
  wrong[0] = 3; // class 0 now: tp 2 fp 1 fn 2 -> 4/7
  auto w = classify_metrics(truth, wrong, 4);
  ASSERT_TRUE(w);
  EXPECT_NEAR(w->f1[0], 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(w->macro_f1, (4.0 / 7.0 + 0.5 + 0.75 + 0.0) / 4.0, 1e-9);
  EXPECT_NEAR(w->accuracy, 0.6, 1e-12);
}

TEST(metrics, perfect_and_empty) {
  auto perfect = classify_metrics({1, 0, 1}, {1, 0, 1}, 2);
  ASSERT_TRUE(perfect);
  EXPECT_EQ(perfect->accuracy, 1.0);
  EXPECT_EQ(perfect->macro_f1, 1.0);
  auto empty = classify_metrics({}, {}, 2);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->count, 0u);
  EXPECT_EQ(empty->accuracy, 0.0);
  EXPECT_EQ(empty->macro_f1, 0.0);
}

TEST(metrics, refuses_bad_input) {
  auto sizes = classify_metrics({0, 1}, {0}, 2);
  ASSERT_FALSE(sizes);
  EXPECT_EQ(sizes.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_EQ(
      llmos::describe(sizes.error()),
      "bad_params: metrics: 2 true labels but 1 predictions; give one prediction per example");
  auto range = classify_metrics({0, 1}, {0, 2}, 2);
  ASSERT_FALSE(range);
  EXPECT_EQ(llmos::describe(range.error()),
            "bad_params: metrics: prediction 2 at position 1 is outside [0, 2)");
  auto negative = classify_metrics({-1}, {0}, 2);
  ASSERT_FALSE(negative);
  EXPECT_EQ(llmos::describe(negative.error()),
            "bad_params: metrics: true label -1 at position 0 is outside [0, 2)");
  EXPECT_FALSE(classify_metrics({}, {}, 0));
}

TEST(metrics, json_names_the_classes) {
  auto m = classify_metrics(truth, predicted, 3);
  ASSERT_TRUE(m);
  auto j = m->to_json({"ham", "spam"}); // one name short: the third is called "2"
  EXPECT_NEAR(j.at("accuracy").get<double>(), 0.7, 1e-12);
  EXPECT_NEAR(j.at("macro_f1").get<double>(), 2.0 / 3.0, 1e-9);
  EXPECT_EQ(j.at("count").get<uint64_t>(), 10u);
  EXPECT_EQ(j.at("labels"), (nlohmann::json{"ham", "spam", "2"}));
  EXPECT_EQ(j.at("per_class").at(1).at("label"), "spam");
  EXPECT_NEAR(j.at("per_class").at(1).at("f1").get<double>(), 0.5, 1e-12);
  EXPECT_EQ(j.at("per_class").at(2).at("support").get<uint64_t>(), 4u);
  EXPECT_EQ(j.at("confusion").at(2), (nlohmann::json{1, 0, 3}));
}

TEST(metrics, perplexity_of_a_uniform_model_is_the_vocabulary_size) {
  // A model spreading probability evenly over 50 tokens pays ln 50 per token.
  EXPECT_NEAR(llmos::model::perplexity(200 * std::log(50.0), 200), 50.0, 1e-9);
  EXPECT_NEAR(llmos::model::perplexity(0, 7), 1.0, 1e-12);
  EXPECT_TRUE(std::isinf(llmos::model::perplexity(1.0, 0)));
}

} // namespace
