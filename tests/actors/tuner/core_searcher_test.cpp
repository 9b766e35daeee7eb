// The other algorithms through the common searcher interface (random and grid train every trial
// fully, Hyperband's brackets start at the right budgets), and saving and resuming a study: the
// jobs running at save time come back first, and the resumed study continues exactly as the
// original would have.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "llmos/messages/error.hpp"
#include "study_helpers.hpp"

namespace {

using namespace llmos::tuner;
using llmos::tuner::testing::real_param;
using llmos::tuner::testing::run_to_end;
using llmos::tuner::testing::synthetic_study;

double peak_at_07(const trial_job& job) {
  const double x = real_param(job, "x");
  return -(x - 0.7) * (x - 0.7) - 1.0 / job.resource;
}

bool same_job(const trial_job& a, const trial_job& b) {
  return a.trial == b.trial && a.rung == b.rung && a.resource == b.resource &&
         a.from_resource == b.from_resource && a.params == b.params;
}

TEST(random_search, trains_each_trial_fully_once) {
  auto s = make_searcher(synthetic_study(algorithm_kind::random, 5, 1, 50));
  std::vector<trial_job> jobs;
  while (auto job = s->next_job())
    jobs.push_back(*job);
  ASSERT_EQ(jobs.size(), 5u);
  std::set<assignment> distinct;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].trial, i + 1);
    EXPECT_EQ(jobs[i].rung, 0);
    EXPECT_EQ(jobs[i].resource, 50.0);
    EXPECT_EQ(jobs[i].from_resource, 0.0);
    distinct.insert(jobs[i].params);
  }
  EXPECT_EQ(distinct.size(), 5u);
  EXPECT_FALSE(s->finished());
  for (const auto& job : jobs)
    s->report(job.trial, job.rung, peak_at_07(job));
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->compute_used(), 250.0);
  // Same seed, same study.
  auto again = make_searcher(synthetic_study(algorithm_kind::random, 5, 1, 50));
  EXPECT_EQ(again->next_job()->params, jobs[0].params);
}

TEST(grid_search, runs_every_point_in_order) {
  auto spec = synthetic_study(algorithm_kind::grid, 1, 1, 10);
  spec.space.params.push_back(param_spec{"c", param_type::choice, 0, 0, {"a", "b"}, 0});
  spec.grid_points = 3;
  auto s = make_searcher(spec);
  const auto jobs = run_to_end(*s, peak_at_07);
  const auto points = grid(spec.space, 3);
  ASSERT_EQ(jobs.size(), 6u) << "the grid, not `trials`, sets the count";
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].params, points[i]);
    EXPECT_EQ(jobs[i].resource, 10.0);
  }
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->params_of(*s->best_trial())->at("x"), "0.5") << "of 0, 0.5 and 1, 0.5 is nearest";
}

TEST(hyperband, brackets_start_at_rising_budgets_in_turn) {
  auto s = make_searcher(synthetic_study(algorithm_kind::hyperband, 30, 1, 9));
  std::vector<trial_job> first;
  for (int i = 0; i < 4; ++i)
    first.push_back(*s->next_job());
  EXPECT_EQ(first[0].rung, 0);
  EXPECT_EQ(first[0].resource, 1.0);
  EXPECT_EQ(first[1].rung, 1);
  EXPECT_EQ(first[1].resource, 3.0);
  EXPECT_EQ(first[2].rung, 2);
  EXPECT_EQ(first[2].resource, 9.0);
  EXPECT_EQ(first[3].rung, 0) << "round-robin: back to the first bracket";
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].trial, i + 1) << "ids are unique across brackets";
    EXPECT_EQ(first[i].from_resource, 0.0);
  }
  for (const auto& job : first)
    s->report(job.trial, job.rung, peak_at_07(job));
  auto rest = run_to_end(*s, peak_at_07);
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->trials_started(), 30u);
  std::set<uint64_t> trials;
  for (const auto& job : rest) {
    EXPECT_TRUE(job.resource == 1 || job.resource == 3 || job.resource == 9);
    if (job.from_resource == 0)
      EXPECT_TRUE(trials.insert(job.trial).second);
    else
      EXPECT_EQ(job.from_resource * 3, job.resource) << "promotions go up one level";
  }
  // The winner is ranked at the top level only (a short run's value is not comparable).
  double best_full = -1e9;
  for (const auto* jobs : {&first, &rest})
    for (const auto& job : *jobs)
      if (job.resource == 9)
        best_full = std::max(best_full, peak_at_07(job));
  ASSERT_TRUE(s->best_trial());
  EXPECT_EQ(s->best_value(), best_full);
}

/// An ASHA study part way: trials 1..4 started, 1..3 reported (so trial 2 was promoted and is
/// running at rung 1), trial 4 running at rung 0.
std::unique_ptr<searcher> part_way(const study_spec& spec) {
  auto s = make_searcher(spec);
  for (int i = 0; i < 3; ++i)
    s->next_job();
  s->report(1, 0, 0.5);
  s->report(2, 0, 0.9);
  s->next_job(); // trial 4
  s->report(3, 0, 0.1);
  auto promoted = s->next_job();
  EXPECT_EQ(promoted->trial, 2u);
  return s;
}

TEST(restore, reissues_running_jobs_then_continues_as_the_original) {
  const auto spec = synthetic_study(algorithm_kind::asha, 12, 1, 9);
  auto original = part_way(spec);
  // Through text, as the tuner saves it.
  const auto state = nlohmann::json::parse(original->to_json().dump());
  auto restored = restore_searcher(spec, state);
  ASSERT_TRUE(restored) << llmos::describe(restored.error());
  auto& copy = **restored;
  EXPECT_EQ(copy.trials_started(), 4u);
  EXPECT_EQ(copy.compute_used(), original->compute_used()) << "reissues are not charged twice";
  EXPECT_EQ(copy.running(), 0u) << "nothing runs until handed out again";
  auto first = copy.next_job();
  auto second = copy.next_job();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->trial, 2u);
  EXPECT_EQ(first->rung, 1);
  EXPECT_EQ(first->resource, 3.0);
  EXPECT_EQ(first->from_resource, 1.0);
  EXPECT_EQ(first->params, original->params_of(2));
  EXPECT_EQ(second->trial, 4u);
  EXPECT_EQ(second->rung, 0);
  EXPECT_EQ(copy.compute_used(), original->compute_used());
  // Both get the same results for the two running jobs, then must agree job for job.
  for (auto* s : {original.get(), &copy}) {
    s->report(2, 1, 0.8);
    s->report(4, 0, 0.7);
  }
  const auto a = run_to_end(*original, peak_at_07);
  const auto b = run_to_end(copy, peak_at_07);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(same_job(a[i], b[i])) << "job " << i;
  EXPECT_TRUE(copy.finished());
  EXPECT_EQ(original->to_json(), copy.to_json());
}

TEST(restore, a_late_result_settles_a_job_waiting_for_reissue) {
  const auto spec = synthetic_study(algorithm_kind::asha, 4, 1, 9);
  auto original = part_way(spec);
  auto restored = restore_searcher(spec, original->to_json());
  ASSERT_TRUE(restored);
  (*restored)->report(4, 0, 0.3);
  auto job = (*restored)->next_job();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->trial, 2u);
  EXPECT_FALSE((*restored)->next_job()) << "trial 4 reported, so only trial 2 comes back";
}

TEST(restore, refuses_another_study_or_damaged_state) {
  const auto spec = synthetic_study(algorithm_kind::asha, 12, 1, 9);
  const auto state = part_way(spec)->to_json();
  auto other = restore_searcher(synthetic_study(algorithm_kind::random, 12, 1, 9), state);
  ASSERT_FALSE(other);
  EXPECT_NE(llmos::describe(other.error()).find("the saved study ran algorithm asha"),
            std::string::npos);
  auto longer = restore_searcher(synthetic_study(algorithm_kind::asha, 12, 1, 27), state);
  ASSERT_FALSE(longer);
  EXPECT_NE(llmos::describe(longer.error()).find("budget ladder"), std::string::npos);
  auto broken = state;
  broken["trials"][1].erase("params");
  auto damaged = restore_searcher(spec, broken);
  ASSERT_FALSE(damaged);
  EXPECT_NE(llmos::describe(damaged.error()).find("the saved study state is damaged"),
            std::string::npos);
  auto gap = state;
  gap["trials"].erase(0);
  EXPECT_FALSE(restore_searcher(spec, gap)) << "ids 2..4 would collide with the next new trial";
}

TEST(searcher_state, to_json_holds_trials_params_and_results) {
  const auto state = part_way(synthetic_study(algorithm_kind::asha, 12, 1, 9))->to_json();
  EXPECT_EQ(state["algorithm"], "asha");
  EXPECT_EQ(state["trials_started"], 4);
  EXPECT_EQ(state["brackets"][0]["resources"], nlohmann::json({1.0, 3.0, 9.0}));
  const auto& t2 = state["trials"][1];
  EXPECT_EQ(t2["id"], 2);
  EXPECT_TRUE(t2["params"].contains("x"));
  EXPECT_EQ(t2["jobs"][0]["value"], 0.9);
  EXPECT_EQ(t2["jobs"][1]["state"], "running");
  EXPECT_EQ(state["best"]["trial"], 2);
}

} // namespace
