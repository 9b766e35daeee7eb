// The scheduler actor's state, shared by its files: scheduler_actor.cpp (the conversation, the
// job table, the tick), cluster_probe.cpp (nodes and devices -> the core's cluster view) and
// task_runner.cpp (running a placed task: model replicas spawned through the node managers,
// data-parallel rendezvous, training with checkpoints, stopping).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/scheduler.hpp"
#include "scheduler/core/scheduler_core.hpp"

namespace llmos::scheduler {

/// One replica of a running task.
struct replica_run {
  std::string node;
  std::string actor; ///< the model actor's name
  caf::actor model;  ///< null until spawned
  bool replied = false;
};

/// A task the runner is executing (from its start decision to its outcome).
struct task_run {
  uint64_t epoch = 0; ///< replies of an earlier run of the same task carry an older epoch
  std::vector<replica_run> replicas;
  std::string progress;
  caf::actor relay; ///< tags rank 0's progress events with the task id (spec names repeat)
  std::optional<caf::error> error; ///< the first replica error
  bool preempted = false;          ///< a replica answered preempted
  bool stop_requested = false;     ///< preempted or cancelled before training began
  std::size_t pending = 0;         ///< replicas still to answer (spawn, join or train)
  std::string result;              ///< rank 0's report (JSON)
};

struct waiter {
  caf::typed_response_promise<task_status> promise;
  caf::actor progress; ///< may be null
};

struct scheduler_config {
  std::string name;
  scheduler::policy_options policy;
  std::filesystem::path root; ///< job table and checkpoints
  uint32_t node_threads = 0;  ///< threads of a node without CPU device actors (0 = none)
  caf::actor manager;         ///< this node's manager
};

struct scheduler_state {
  scheduler_config cfg;
  std::optional<scheduler::scheduler_core> core;
  std::vector<scheduler::task_record> restored; ///< from the job table, until the cluster is known
  /// Submissions that arrived before any node was known, answered when the first one is.
  std::vector<std::pair<task_spec, caf::typed_response_promise<uint64_t>>> early;
  std::map<std::string, node_status> nodes; ///< last nodes answer, by name
  std::map<std::string, bool> probing;      ///< nodes whose devices are being asked
  /// Each known node's device actors (for what models placed on them hold).
  std::map<std::string, std::vector<scheduler::device_facts>> devices;
  std::map<uint64_t, task_run> runs;
  std::map<uint64_t, std::vector<waiter>> waiters;
  uint64_t epochs = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string saved_table; ///< what jobs.json holds (rewritten only when it would change)
  static inline const char* name = "llmos.scheduler";
};

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

/// Seconds since the scheduler started (the core's clock).
double now_s(const scheduler_state& st);

/// Writes the job table; logs (never throws away the in-memory table) when it cannot.
void persist(self_ptr self);

/// Runs the core's decisions: start, preempt, stop.
void execute(self_ptr self, const std::vector<scheduler::decision>& decisions);

/// One scheduling pass and its decisions, then persists.
void schedule_now(self_ptr self);

/// Checks a submitted task (fields, duplicate live name) and queues it in the core.
caf::expected<uint64_t> accept(self_ptr self, task_spec spec);

/// Answers waiters of tasks that have ended.
void settle_waiters(self_ptr self);

// cluster_probe.cpp
/// Asks the node manager for the nodes; adds new ones (capacity from their device actors),
/// reports lost and returning ones to the core, and counts on each known node what models the
/// scheduler did not place hold.
void probe_cluster(self_ptr self);

// task_runner.cpp
void start_task(self_ptr self, uint64_t id, const scheduler::placement& where);
/// Asks every replica of a running task to checkpoint and stop (preemption, cancel).
void stop_task(self_ptr self, uint64_t id);
/// Forgets a run whose node was lost; stops its replicas that are still alive.
void abandon_task(self_ptr self, uint64_t id);
/// Progress of a task's rank-0 replica.
void on_progress(self_ptr self, uint64_t id, const progress_event& ev);

} // namespace llmos::scheduler
