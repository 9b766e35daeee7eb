// ASHA's promotion rule on results the test chooses (the top 1/eta of a rung moves up, and only
// they; mode min reverses the order; failed trials never move up), its budget ladder, and the
// point of it all: the optimum of a synthetic objective for far less compute than random search.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "study_helpers.hpp"
#include "tuner/core/bracket.hpp"

namespace {

using namespace llmos::tuner;
using llmos::tuner::testing::real_param;
using llmos::tuner::testing::run_to_end;
using llmos::tuner::testing::synthetic_study;

/// Hands out `n` jobs and checks they are new trials at rung 0.
std::vector<trial_job> start(searcher& s, int n) {
  std::vector<trial_job> jobs;
  for (int i = 0; i < n; ++i) {
    auto job = s.next_job();
    EXPECT_TRUE(job);
    if (!job)
      break;
    EXPECT_EQ(job->rung, 0);
    EXPECT_EQ(job->from_resource, 0.0);
    jobs.push_back(*job);
  }
  return jobs;
}

TEST(asha, rung_budgets) {
  EXPECT_EQ(rung_resources(20, 180, 3), (std::vector<double>{20, 60, 180}));
  EXPECT_EQ(rung_resources(1, 9, 3), (std::vector<double>{1, 3, 9}));
  EXPECT_EQ(rung_resources(1, 8, 2), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(rung_resources(20, 200, 3), (std::vector<double>{20, 60, 200}))
      << "the top rung trains the full budget";
  EXPECT_EQ(rung_resources(50, 50, 3), (std::vector<double>{50}));
}

TEST(asha, best_of_three_moves_up_and_only_it) {
  auto s = make_searcher(synthetic_study(algorithm_kind::asha, 9, 1, 9));
  auto jobs = start(*s, 3);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].trial, 1u);
  EXPECT_EQ(jobs[2].trial, 3u);
  EXPECT_EQ(jobs[0].resource, 1.0);
  s->report(1, 0, 0.5);
  s->report(2, 0, 0.9);
  auto third = s->next_job();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->trial, 4u) << "two results earn no promotion with eta 3";
  s->report(3, 0, 0.1);
  auto promoted = s->next_job();
  ASSERT_TRUE(promoted);
  EXPECT_EQ(promoted->trial, 2u);
  EXPECT_EQ(promoted->rung, 1);
  EXPECT_EQ(promoted->resource, 3.0);
  EXPECT_EQ(promoted->from_resource, 1.0) << "it resumes from its rung-0 checkpoint";
  EXPECT_EQ(promoted->params, jobs[1].params);
  auto next = s->next_job();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->rung, 0) << "trials 1 and 3 are not in the top third";
  EXPECT_EQ(next->trial, 5u);
}

/// Reports values[i] for trial i + 1 at rung 0 of a fresh 9-trial study, then returns the
/// trials promoted to rung 1 in the order they are handed out.
std::vector<uint64_t> promotions_after_nine(objective_mode mode,
                                            const std::vector<double>& values) {
  auto spec = synthetic_study(algorithm_kind::asha, 9, 1, 9);
  spec.mode = mode;
  auto s = make_searcher(spec);
  for (const auto& job : start(*s, 9))
    s->report(job.trial, 0, values.at(job.trial - 1));
  std::vector<uint64_t> promoted;
  while (auto job = s->next_job()) {
    EXPECT_EQ(job->rung, 1);
    promoted.push_back(job->trial);
  }
  EXPECT_FALSE(s->finished()) << "the promoted jobs are running";
  return promoted;
}

TEST(asha, nine_results_promote_the_top_three_best_first) {
  const std::vector<double> values{0.3, 0.8, 0.1, 0.95, 0.5, 0.2, 0.7, 0.4, 0.6};
  EXPECT_EQ(promotions_after_nine(objective_mode::max, values), (std::vector<uint64_t>{4, 2, 7}));
  EXPECT_EQ(promotions_after_nine(objective_mode::min, values), (std::vector<uint64_t>{3, 6, 1}))
      << "mode min: lower is better";
}

TEST(asha, higher_rung_promotes_first_to_the_top) {
  auto s = make_searcher(synthetic_study(algorithm_kind::asha, 9, 1, 9));
  const std::vector<double> values{0.3, 0.8, 0.1, 0.95, 0.5, 0.2, 0.7, 0.4, 0.6};
  for (const auto& job : start(*s, 9))
    s->report(job.trial, 0, values.at(job.trial - 1));
  for (int i = 0; i < 3; ++i) {
    auto job = s->next_job();
    ASSERT_TRUE(job);
    s->report(job->trial, 1, values.at(job->trial - 1));
  }
  auto top = s->next_job();
  ASSERT_TRUE(top);
  EXPECT_EQ(top->trial, 4u);
  EXPECT_EQ(top->rung, 2);
  EXPECT_EQ(top->resource, 9.0);
  EXPECT_EQ(top->from_resource, 3.0);
  EXPECT_FALSE(s->next_job());
  s->report(4, 2, 0.97);
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->best_trial(), 4u);
  EXPECT_EQ(s->best_value(), 0.97);
  // Each of the nine ran 1 step, three 2 more, one 6 more.
  EXPECT_EQ(s->compute_used(), 9 * 1 + 3 * 2 + 1 * 6);
}

TEST(asha, a_failed_trial_is_never_promoted) {
  auto s = make_searcher(synthetic_study(algorithm_kind::asha, 5, 1, 9));
  start(*s, 5);
  s->fail(2, 0);
  s->report(2, 0, 0.99); // too late: the job already failed
  s->report(1, 0, 0.5);
  s->report(3, 0, 0.1);
  s->report(4, 0, std::numeric_limits<double>::quiet_NaN()); // diverged: counts as failed
  EXPECT_FALSE(s->next_job()) << "two results (1 and 3) earn no promotion";
  s->report(5, 0, 0.3);
  auto job = s->next_job();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->trial, 1u) << "the best of the three results, not the failed trial 2";
  EXPECT_FALSE(s->next_job());
  s->fail(1, 1);
  EXPECT_TRUE(s->finished()) << "a failure at rung 1 ends the trial too";
  EXPECT_EQ(s->best_trial(), 1u) << "its rung-0 result still counts";
  const auto state = s->to_json();
  EXPECT_EQ(state["trials"][1]["jobs"][0]["state"], "failed");
  EXPECT_EQ(state["trials"][3]["jobs"][0]["state"], "failed");
  EXPECT_EQ(state["trials"][0]["jobs"][1]["state"], "failed");
}

TEST(asha, finished_waits_for_results_and_promotions) {
  auto s = make_searcher(synthetic_study(algorithm_kind::asha, 3, 1, 3));
  EXPECT_FALSE(s->finished());
  start(*s, 3);
  EXPECT_FALSE(s->next_job()) << "all three started, no results yet";
  EXPECT_FALSE(s->finished());
  EXPECT_EQ(s->running(), 3u);
  for (uint64_t t = 1; t <= 3; ++t)
    s->report(t, 0, static_cast<double>(t));
  EXPECT_EQ(s->running(), 0u);
  EXPECT_FALSE(s->finished()) << "trial 3 has earned a promotion nobody handed out yet";
  auto job = s->next_job();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->trial, 3u);
  s->report(3, 1, 4.0);
  EXPECT_TRUE(s->finished());
  EXPECT_FALSE(s->next_job());
}

/// Better near x = 0.7 and with more training; a longer run never reorders trials.
double synthetic_objective(const trial_job& job) {
  const double x = real_param(job, "x");
  return -(x - 0.7) * (x - 0.7) - 1.0 / job.resource;
}

TEST(asha, finds_the_optimum_for_a_fraction_of_random_search_compute) {
  auto asha = make_searcher(synthetic_study(algorithm_kind::asha, 27, 20, 180));
  auto random = make_searcher(synthetic_study(algorithm_kind::random, 27, 20, 180));
  const auto asha_jobs = run_to_end(*asha, synthetic_objective);
  const auto random_jobs = run_to_end(*random, synthetic_objective);
  ASSERT_TRUE(asha->finished());
  ASSERT_TRUE(random->finished());
  EXPECT_EQ(asha->trials_started(), 27u);
  EXPECT_EQ(random->compute_used(), 27 * 180.0);
  // Both draw the same 27 points from the seed, so ASHA must end on random search's winner.
  ASSERT_TRUE(asha->best_trial());
  ASSERT_TRUE(random->best_trial());
  EXPECT_EQ(asha->params_of(*asha->best_trial()), random->params_of(*random->best_trial()));
  EXPECT_EQ(asha->best_value(), random->best_value()) << "the winner trained the full budget";
  EXPECT_LT(asha->compute_used(), 0.4 * random->compute_used());
  int full_runs = 0;
  for (const auto& job : asha_jobs)
    full_runs += job.resource == 180.0;
  EXPECT_GE(full_runs, 3);
  EXPECT_LT(full_runs, 9);
}

} // namespace
