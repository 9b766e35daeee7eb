// The tuner actor's state and the steps its two files share: tuner_actor.cpp (studies, trials,
// the behaviour) and tuner_publish.cpp (a finished study's best trial into the registry).
// Internal to the tuner.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "tuner/core/searcher.hpp"
#include "tuner/tuner_actor.hpp"

namespace llmos::tuner {

namespace fs = std::filesystem;
constexpr auto call_timeout = std::chrono::seconds(30);

struct tuner_config {
  std::string name;
  std::string scheduler = "scheduler";
  std::string registry = "registry"; ///< "" = do not publish
  fs::path root;
  uint32_t threads = 1; ///< threads per trial
  caf::actor manager;
};

struct study_run {
  tuner::study_spec spec;
  std::unique_ptr<tuner::searcher> search;
  std::string state = "running";
  std::string error;
  std::string last_failure; ///< "trial N: why", for a study no trial of which reports its metric
  std::string published;
  std::map<uint64_t, tuner::trial_job> jobs;        ///< scheduler task id -> job in flight
  nlohmann::json history = nlohmann::json::array(); ///< [compute_used, rung, value] per result
  std::vector<caf::typed_response_promise<study_status>> waiters;
};

struct tuner_state {
  tuner_config cfg;
  std::map<std::string, study_run> studies;
  static inline const char* name = "llmos.tuner";
};

using self_ptr = tuner_actor::stateful_pointer<tuner_state>;

/// The study's folder under the tuner's root.
fs::path folder_of(self_ptr self, const std::string& study);

/// The study as its `status` answer.
study_status status_of(const study_run& s);

/// Writes the study's searcher, history, state and error to its study.json, atomically.
void save(self_ptr self, const study_run& s);

/// The actor named `name` (the scheduler, a data set, the registry), then `then(handle)`.
void lookup(self_ptr self, const std::string& name, std::function<void(caf::actor)> then,
            std::function<void(caf::error)> fail);

/// The study ends in `state`: saved, logged, and its waiters answered.
void end_study(self_ptr self, study_run& s, const std::string& state);

/// The best trial's checkpoint as a registry version: a model actor loads it, the publisher
/// bundles weights, spec, tokenizer, metrics and lineage; the study ends done (or failed).
void publish_best(self_ptr self, const std::string& name);

} // namespace llmos::tuner
