// The training loop's rules and the generation rule: learning-rate schedule values, early
// stopping on number sequences, and token sampling against exact softmax probabilities.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/early_stopping.hpp"
#include "model/core/lr_schedule.hpp"
#include "model/core/sampling.hpp"

namespace {

using llmos::model::early_stopping;
using llmos::model::lr_schedule;
using llmos::model::sample_token;
using llmos::model::sampling_params;

/// Temperature, top-k and top-p; no penalties or bias.
sampling_params sp(double temperature, int64_t top_k, double top_p) {
  sampling_params p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

// ---- learning-rate schedule: base 1e-3, 10 warm-up steps, 110 in all, floor 1e-4 ----

TEST(lr_schedule, warms_up_linearly_from_the_first_step) {
  lr_schedule s{1e-3, 10, 110, 0.1};
  EXPECT_NEAR(s.at(0), 1e-4, 1e-15);
  EXPECT_NEAR(s.at(4), 5e-4, 1e-15);
  EXPECT_NEAR(s.at(9), 1e-3, 1e-15);
}

TEST(lr_schedule, decays_along_a_cosine_to_the_floor) {
  lr_schedule s{1e-3, 10, 110, 0.1};
  EXPECT_NEAR(s.at(10), 1e-3, 1e-15);                 // p = 0
  EXPECT_NEAR(s.at(35), 8.681980515339464e-4, 1e-15); // p = 1/4: 1e-4 + 4.5e-4 (1 + cos pi/4)
  EXPECT_NEAR(s.at(60), 5.5e-4, 1e-15);               // p = 1/2: half way to the floor
  EXPECT_NEAR(s.at(110), 1e-4, 1e-15);                // p = 1: the floor
  EXPECT_NEAR(s.at(5000), 1e-4, 1e-15);               // stays there
  for (int64_t step = 10; step < 110; ++step)
    EXPECT_GT(s.at(step), s.at(step + 1)) << "step " << step;
}

TEST(lr_schedule, without_warm_up_starts_at_the_base) {
  lr_schedule s{0.5, 0, 100, 0.0};
  EXPECT_DOUBLE_EQ(s.at(0), 0.5);
  EXPECT_NEAR(s.at(50), 0.25, 1e-12);
  EXPECT_NEAR(s.at(100), 0.0, 1e-12);
}

// ---- early stopping ----

TEST(early_stopping, counts_evaluations_since_the_best) {
  early_stopping e{2, true};
  EXPECT_TRUE(std::isnan(e.best()));
  EXPECT_TRUE(e.update(0.5));
  EXPECT_TRUE(e.update(0.6));
  EXPECT_FALSE(e.update(0.6)); // equal is not better
  EXPECT_EQ(e.since_best(), 1);
  EXPECT_FALSE(e.should_stop());
  EXPECT_FALSE(e.update(0.55));
  EXPECT_EQ(e.since_best(), 2);
  EXPECT_TRUE(e.should_stop());
  EXPECT_DOUBLE_EQ(e.best(), 0.6);
  EXPECT_TRUE(e.update(0.7)); // a late improvement resets the count
  EXPECT_EQ(e.since_best(), 0);
  EXPECT_FALSE(e.should_stop());
}

TEST(early_stopping, lower_is_better_with_min_delta) {
  early_stopping e{1, false, 0.01};
  EXPECT_TRUE(e.update(1.0));
  EXPECT_FALSE(e.update(0.995)); // better, but not by more than 0.01
  EXPECT_TRUE(e.should_stop());
  EXPECT_TRUE(e.update(0.98));
  EXPECT_DOUBLE_EQ(e.best(), 0.98);
  EXPECT_FALSE(e.update(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_DOUBLE_EQ(e.best(), 0.98);
}

TEST(early_stopping, patience_zero_never_stops) {
  early_stopping e{0, true};
  e.update(1.0);
  for (int i = 0; i < 100; ++i)
    e.update(0.0);
  EXPECT_EQ(e.since_best(), 100);
  EXPECT_FALSE(e.should_stop());
}

// ---- sampling ----

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<double> p;
  double sum = 0;
  for (float l : logits)
    sum += std::exp(l / temperature);
  for (float l : logits)
    p.push_back(std::exp(l / temperature) / sum);
  return p;
}

std::vector<double> frequencies(const std::vector<float>& logits, const sampling_params& p,
                                int draws, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    auto t = sample_token(logits.data(), logits.size(), p, rng);
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<int64_t>(logits.size()));
    f[static_cast<std::size_t>(t)] += 1.0 / draws;
  }
  return f;
}

std::vector<float> random_logits(std::mt19937_64& rng, std::size_t n) {
  std::normal_distribution<float> normal{0.0f, 3.0f};
  std::vector<float> l(n);
  for (auto& x : l)
    x = normal(rng);
  return l;
}

int64_t argmax(const std::vector<float>& l) {
  return std::max_element(l.begin(), l.end()) - l.begin(); // first of the maxima
}

TEST(sampling, greedy_takes_the_first_maximum) {
  std::mt19937_64 rng{1};
  const std::vector<float> l{1.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(sample_token(l.data(), l.size(), sp(0.0, 0, 1.0), rng), 1);
  const std::vector<float> with_nan{std::nanf(""), -1.0f, 2.0f};
  EXPECT_EQ(sample_token(with_nan.data(), with_nan.size(), sp(0.0, 0, 1.0), rng), 2);
  EXPECT_EQ(sample_token(nullptr, 0, {}, rng), -1);
}

TEST(sampling, top_k_one_and_tiny_top_p_are_greedy) {
  std::mt19937_64 gen{7};
  std::mt19937_64 rng{8};
  for (int trial = 0; trial < 50; ++trial) {
    auto l = random_logits(gen, 20);
    for (double t : {0.1, 1.0, 5.0, 100.0}) {
      EXPECT_EQ(sample_token(l.data(), l.size(), sp(t, 1, 1.0), rng), argmax(l));
      EXPECT_EQ(sample_token(l.data(), l.size(), sp(t, 0, 1e-9), rng), argmax(l));
    }
  }
  // Ties go to the lower index, as in greedy decoding.
  const std::vector<float> tied{2.0f, 5.0f, 5.0f, 1.0f};
  EXPECT_EQ(sample_token(tied.data(), tied.size(), sp(1.0, 1, 1.0), rng), 1);
  EXPECT_EQ(sample_token(tied.data(), tied.size(), sp(1.0, 0, 1e-9), rng), 1);
}

TEST(sampling, temperature_one_follows_the_softmax) {
  const std::vector<float> l{1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  auto expected = softmax(l, 1.0);
  auto got = frequencies(l, sp(1.0, 0, 1.0), 20000, 42);
  for (std::size_t i = 0; i < l.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 0.02) << "token " << i;
}

TEST(sampling, lower_temperature_sharpens) {
  const std::vector<float> l{1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  auto at_one = frequencies(l, sp(1.0, 0, 1.0), 20000, 3);
  auto at_half = frequencies(l, sp(0.5, 0, 1.0), 20000, 3);
  auto expected = softmax(l, 0.5);
  for (std::size_t i = 0; i < l.size(); ++i)
    EXPECT_NEAR(at_half[i], expected[i], 0.02) << "token " << i;
  EXPECT_GT(at_half[1], at_one[1] + 0.1); // the favourite gains...
  EXPECT_LT(at_half[3], at_one[3]);       // ...the least likely loses
}

TEST(sampling, filters_renormalise) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 exactly.
  const std::vector<float> l{std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  auto top2 = frequencies(l, sp(1.0, 2, 1.0), 20000, 5);
  EXPECT_NEAR(top2[0], 0.5 / 0.8, 0.02);
  EXPECT_NEAR(top2[1], 0.3 / 0.8, 0.02);
  EXPECT_EQ(top2[2] + top2[3], 0.0);
  // The nucleus of 0.7 needs two tokens (0.5 alone is short of it).
  auto nucleus = frequencies(l, sp(1.0, 0, 0.7), 20000, 6);
  EXPECT_NEAR(nucleus[0], 0.5 / 0.8, 0.02);
  EXPECT_EQ(nucleus[2] + nucleus[3], 0.0);
  // Top-k first, then the nucleus of what is left: of {0.5, 0.3, 0.15} renormalised (0.526,
  // 0.316, 0.158) the first two hold 0.842 >= 0.8.
  auto both = frequencies(l, sp(1.0, 3, 0.8), 20000, 7);
  EXPECT_EQ(both[2] + both[3], 0.0);
  EXPECT_NEAR(both[0], 0.625, 0.02);
}

TEST(sampling, same_seed_same_tokens) {
  std::mt19937_64 gen{11};
  auto l = random_logits(gen, 100);
  std::mt19937_64 a{99};
  std::mt19937_64 b{99};
  const sampling_params p = sp(0.8, 40, 0.9);
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(sample_token(l.data(), l.size(), p, a), sample_token(l.data(), l.size(), p, b));
}

TEST(sampling, validate_names_the_field) {
  EXPECT_FALSE(llmos::model::validate({}));
  EXPECT_FALSE(llmos::model::validate(sp(0.0, 5, 0.5)));
  auto describe = [](const sampling_params& p) {
    auto err = llmos::model::validate(p);
    EXPECT_EQ(err.code(), static_cast<uint8_t>(llmos::error_code::bad_params));
    return llmos::describe(err);
  };
  EXPECT_NE(describe(sp(-0.5, 0, 1.0)).find("'temperature'"), std::string::npos);
  EXPECT_NE(describe(sp(1.0, -1, 1.0)).find("'top_k'"), std::string::npos);
  EXPECT_NE(describe(sp(1.0, 0, 0.0)).find("'top_p'"), std::string::npos);
  EXPECT_NE(describe(sp(1.0, 0, 1.5)).find("'top_p'"), std::string::npos);
  EXPECT_NE(describe(sp(std::nan(""), 0, 1.0)).find("'temperature'"), std::string::npos);
}

} // namespace

namespace {

using llmos::model::adjusted_logits;

TEST(sampling, bias_and_penalties_follow_openais_definitions) {
  const std::vector<float> logits{1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> scratch;
  sampling_params p;
  const std::vector<int32_t> generated{3, 3, 1};
  // Nothing asked: the logits themselves, no copy.
  EXPECT_EQ(adjusted_logits(logits.data(), 4, p, generated.data(), 3, scratch), logits.data());
  p.logit_bias = {{0, 5.0}, {2, -100.0}};
  p.presence_penalty = 0.5;
  p.frequency_penalty = 0.25;
  const float* got = adjusted_logits(logits.data(), 4, p, generated.data(), 3, scratch);
  EXPECT_FLOAT_EQ(got[0], 6.0f);                // +5 bias
  EXPECT_FLOAT_EQ(got[1], 2.0f - 0.5f - 0.25f); // seen once
  EXPECT_FLOAT_EQ(got[2], -97.0f);              // -100 bias, never generated
  EXPECT_FLOAT_EQ(got[3], 4.0f - 0.5f - 0.5f);  // seen twice
  std::mt19937_64 rng{1};
  p.temperature = 0;
  EXPECT_EQ(sample_token(got, 4, p, rng), 0); // the bias made token 0 the greedy choice
}

TEST(sampling, refuses_penalties_and_biases_out_of_range) {
  sampling_params p;
  p.presence_penalty = 2.5;
  using llmos::describe;
  using llmos::model::validate;
  EXPECT_NE(describe(validate(p)).find("presence_penalty"), std::string::npos);
  p = {};
  p.logit_bias = {{7, 101.0}};
  EXPECT_NE(describe(validate(p)).find("logit_bias"), std::string::npos);
  p.logit_bias = {{512, 1.0}};
  EXPECT_FALSE(validate(p));
  EXPECT_NE(describe(validate(p, 512)).find("outside the vocabulary"), std::string::npos);
}

} // namespace

namespace {

TEST(sampling, logprobs_are_the_log_softmax_with_the_most_likely_first) {
  const std::vector<float> logits{1.0f, 3.0f, 2.0f, 3.0f};
  const double total = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
  auto lp = llmos::model::logprobs_of(logits.data(), 4, 2, 3);
  EXPECT_NEAR(lp.chosen, std::log(std::exp(2.0) / total), 1e-6);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1); // ties: the lower id first
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 2);
  EXPECT_NEAR(lp.top[0].second, std::log(std::exp(3.0) / total), 1e-6);
  EXPECT_TRUE(llmos::model::logprobs_of(logits.data(), 4, 0, 0).top.empty());
}

} // namespace
