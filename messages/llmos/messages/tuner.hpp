// The tuner conversation: a study (a YAML file: model spec, data set, search space, algorithm)
// runs its trials as tasks of the scheduler, lets their results decide which continue (ASHA,
// Hyperband) and publishes the best trial's model to the registry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

struct study_status {
  std::string name;
  std::string algorithm;
  std::string state; ///< running, done, failed, stopped
  uint64_t trials_started = 0;
  uint64_t running = 0;
  double compute_used = 0; ///< training steps handed out (resumed trials count their increment)
  int64_t best_trial = -1;
  double best_value = 0;
  std::string best_params; ///< JSON object
  std::string published;   ///< "MODEL vN" once the best model is in the registry
  std::string error;
  std::string trials;  ///< JSON: every trial with its params and results per rung
  std::string history; ///< JSON: [compute_used, rung, value, trial] per result, in order
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, study_status& x) {
  return f(caf::meta::type_name("study_status"), field("name"), x.name, field("algorithm"),
           x.algorithm, field("state"), x.state, field("trials_started"), x.trials_started,
           field("running"), x.running, field("compute_used"), x.compute_used, field("best_trial"),
           x.best_trial, field("best_value"), x.best_value, json_field("best_params"),
           x.best_params, optional_field("published"), x.published, optional_field("error"),
           x.error, json_field("trials", true), x.trials, json_field("history", true), x.history);
}

using tuner_actor = caf::typed_actor<
    // client -> tuner: start (or resume, when its state is on disk) the study in a file.
    caf::replies_to<study_atom, std::string>::with<study_status>,
    // client -> tuner: a study's status by name.
    caf::replies_to<status_atom, std::string>::with<study_status>,
    // client -> tuner: every study.
    caf::replies_to<list_atom>::with<std::vector<study_status>>,
    // client -> tuner: answered when the study ends.
    caf::replies_to<wait_atom, std::string>::with<study_status>,
    // client -> tuner: stop a study (running trials are cancelled; the state stays on disk).
    caf::replies_to<stop_atom, std::string>::with<study_status>>;

} // namespace llmos
