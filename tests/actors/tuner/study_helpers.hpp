// Shared by the tuner's unit tests: a study over one real parameter x in [0, 1] and a driver
// that runs a searcher to the end one job at a time, as a tuner with parallel: 1 would.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tuner/core/searcher.hpp"

namespace llmos::tuner::testing {

/// A study searching x uniform in [0, 1] with the given algorithm and budgets.
inline study_spec synthetic_study(algorithm_kind algorithm, uint64_t trials, double min_resource,
                                  double max_resource, int reduction = 3) {
  study_spec spec;
  spec.name = "synthetic";
  spec.model = "m.yaml";
  spec.dataset = "d";
  spec.algorithm = algorithm;
  spec.trials = trials;
  spec.min_resource = min_resource;
  spec.max_resource = max_resource;
  spec.reduction = reduction;
  spec.seed = 7;
  spec.space.params.push_back(param_spec{"x", param_type::uniform, 0, 1, {}, 0});
  return spec;
}

/// The value of real parameter `name` in a job.
inline double real_param(const trial_job& job, const std::string& name) {
  return std::stod(job.params.at(name));
}

/// Hands out and reports jobs one at a time until next_job() has none; returns them in order.
inline std::vector<trial_job> run_to_end(searcher& s,
                                         const std::function<double(const trial_job&)>& f) {
  std::vector<trial_job> jobs;
  while (auto job = s.next_job()) {
    s.report(job->trial, job->rung, f(*job));
    jobs.push_back(*job);
  }
  return jobs;
}

} // namespace llmos::tuner::testing
