// The scheduler conversation: tasks (training runs, tuning trials, ...) are submitted with their
// resource requests, priority and owner; the scheduler places them on the cluster's nodes by its
// policy, runs them (spawning model replicas through the node managers), preempts, retries and
// reschedules them, and answers their status, the queue, and a wait that streams progress.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// A task as a user submits it.
struct task_spec {
  std::string name;  ///< unique among live tasks; a train task's model actor gets this name
  std::string owner; ///< fair-share account ("" = "default")
  int32_t priority = 0;
  uint32_t replicas = 1; ///< data-parallel replicas that start together (gang)
  uint32_t cpu_threads = 1;
  uint32_t gpus = 0;
  uint64_t gpu_memory_mb = 0;
  bool preemptible = true;
  /// What to run. kind=train: spec=PATH dataset=NAME [checkpoint=PATH] [keep=true|false]
  /// [set.FIELD=VALUE ...] (spec overrides, e.g. set.lr=0.01 set.max_steps=200).
  std::map<std::string, std::string> detail;
};

/// The detail keys of a train task other than set.FIELD: what a client may give (the RPC
/// gateway passes these through as detail and makes every other key a spec override) and what
/// the scheduler accepts. A finished task's record adds "result".
inline const std::vector<std::string> task_detail_keys{"kind", "spec", "dataset",  "checkpoint",
                                                       "keep", "init", "fine_tune"};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, task_spec& x) {
  return f(caf::meta::type_name("task_spec"), field("name"), x.name, field("owner"), x.owner,
           field("priority"), x.priority, field("replicas"), x.replicas, field("cpu_threads"),
           x.cpu_threads, field("gpus"), x.gpus, field("gpu_memory_mb"), x.gpu_memory_mb,
           field("preemptible"), x.preemptible, field("detail"), x.detail);
}

/// A task as the scheduler reports it.
struct task_status {
  uint64_t id = 0;
  std::string name;
  std::string owner;
  std::string state; ///< queued, starting, running, stopping, done, failed, cancelled
  int32_t priority = 0;
  uint32_t replicas = 1;
  std::vector<std::string> nodes; ///< where the replicas run (while running)
  uint32_t attempts = 0;          ///< failures so far
  uint32_t preemptions = 0;
  uint32_t reschedules = 0; ///< node losses and restarts survived
  double waited_s = 0;      ///< submitted to first start (or to now)
  double ran_s = 0;         ///< time running since the last start
  std::string progress;     ///< the last progress line
  std::string error;        ///< the last failure
  std::string waiting;      ///< queued: why no node had room at the last try
  std::string result;       ///< done: the run's report (JSON)
  std::map<std::string, std::string> detail;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, task_status& x) {
  return f(caf::meta::type_name("task_status"), field("id"), x.id, field("name"), x.name,
           field("owner"), x.owner, field("state"), x.state, field("priority"), x.priority,
           field("replicas"), x.replicas, field("nodes"), x.nodes, field("attempts"), x.attempts,
           field("preemptions"), x.preemptions, field("reschedules"), x.reschedules,
           field("waited_s"), x.waited_s, field("ran_s"), x.ran_s, optional_field("progress"),
           x.progress, optional_field("error"), x.error, optional_field("waiting"), x.waiting,
           json_field("result", true), x.result, field("detail"), x.detail);
}

using scheduler_actor = caf::typed_actor<
    // client -> scheduler: queue a task; answers its id. bad_params names what cannot fit or
    // is missing (a field of the task, a spec file, a duplicate name).
    caf::replies_to<submit_atom, task_spec>::with<uint64_t>,
    // client -> scheduler: cancel (a running task is stopped first); answers its status.
    caf::replies_to<cancel_atom, uint64_t>::with<task_status>,
    // client -> scheduler: one task's status; not_found when unknown.
    caf::replies_to<status_atom, uint64_t>::with<task_status>,
    // client -> scheduler: every task the table holds, newest first.
    caf::replies_to<queue_atom>::with<std::vector<task_status>>,
    // client -> scheduler: answered when the task ends; progress events go to the actor (may be
    // null) as (progress_atom, progress_event) meanwhile.
    caf::replies_to<wait_atom, uint64_t, caf::actor>::with<task_status>,
    // scheduler -> itself: once a second, look at the nodes and schedule.
    caf::reacts_to<tick_atom>,
    // a running task's progress relay -> scheduler: its rank-0 replica's training progress.
    caf::reacts_to<progress_atom, uint64_t, progress_event>>;

} // namespace llmos
