// The scheduler's state machine, without actors or clocks: tasks come in (submit), the policy
// orders the queue and places what fits (schedule answers the decisions: start these, preempt
// those), and the executor reports back (finished, failed, stopped, node lost). The scheduler
// actor drives it with real time and real node processes; the simulator with simulated time and
// thousands of simulated nodes; the tests with hand-made cases. Times are seconds.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/expected.hpp>

#include "scheduler/core/cluster_state.hpp"
#include "scheduler/core/external_load.hpp"
#include "scheduler/core/policy.hpp"
#include "scheduler/core/preemption.hpp"
#include "scheduler/core/task.hpp"

namespace llmos::scheduler {

enum class task_state : uint8_t {
  queued = 0,    ///< waiting for resources (or for its retry time)
  starting = 1,  ///< placed; waits for the tasks it preempted to stop
  running = 2,   ///< the executor runs it
  stopping = 3,  ///< being preempted: the executor checkpoints and stops it
  done = 4,      ///< finished
  failed = 5,    ///< failed max_attempts times
  cancelled = 6, ///< cancelled by a user
};

/// "queued", "starting", ...
const char* to_string(task_state s);

/// One task and everything the scheduler knows about it.
struct task_record {
  uint64_t id = 0;
  task_request req;
  task_state state = task_state::queued;
  double submitted = 0;
  double started = -1; ///< last start; -1 = never
  double finished = -1;
  double not_before = 0; ///< a failed task waits until then (back-off)
  uint32_t attempts = 0; ///< failures so far
  uint32_t preemptions = 0;
  uint32_t reschedules = 0;                   ///< node losses survived
  placement where;                            ///< while starting/running/stopping
  std::vector<uint64_t> waiting_for;          ///< starting: victims not yet stopped
  std::string error;                          ///< last failure
  bool cancelling = false;                    ///< stopping because a user cancelled it
  std::shared_ptr<const std::string> waiting; ///< queued, and a pass found no room: why
};

/// Every task the scheduler knows, by id (hashed: lookups dominate a busy scheduler).
using task_table = std::unordered_map<uint64_t, task_record>;

/// What the executor is to do.
struct decision {
  enum class kind : uint8_t { start, preempt, stop } what = kind::start;
  uint64_t task = 0;
  placement where; ///< start: where every replica runs
};

class scheduler_core {
public:
  static caf::expected<scheduler_core> make(policy_options options, cluster_state cluster);

  /// Queues a task; bad_params when it could never fit (more than any node, or zero replicas).
  caf::expected<uint64_t> submit(task_request req, double now);

  /// Orders the queue and places what fits: start decisions for placed tasks (and for tasks
  /// whose victims have all stopped), preempt decisions for the victims of a blocked task.
  std::vector<decision> schedule(double now);

  /// A running task ended well.
  void finished(uint64_t id, double now);
  /// A running task failed: queued again after a back-off, or failed after max_attempts.
  void failed(uint64_t id, double now, const std::string& error);
  /// A task the scheduler asked to stop (preempted or cancelled) has stopped.
  void stopped(uint64_t id, double now);
  /// Cancels a task: answers a stop decision when it runs, nothing when it was queued.
  caf::expected<std::optional<decision>> cancel(uint64_t id, double now);
  /// A node went away: its tasks are queued again (not counted as failures); answers a stop
  /// decision for each of them, for their replicas on other nodes (a gang stops together).
  std::vector<decision> node_lost(std::size_t node, double now);
  /// A node joined the cluster (answers its index).
  std::size_t add_node(node_slot node);
  /// A lost node came back.
  void node_back(std::size_t node);
  /// What models the scheduler did not place hold on `node` now (GPUs by device name);
  /// answers whether that changed.
  bool set_external(std::size_t node, const external_load& load);

  /// Sets a detail entry of a task (the executor records a run's result there).
  void set_detail(uint64_t id, const std::string& key, const std::string& value);

  /// Puts a recovered task back (job table restore): running ones become queued.
  void restore(task_record record);

  const task_table& tasks() const { return tasks_; }
  const task_record* task(uint64_t id) const;
  const cluster_state& cluster() const { return cluster_; }
  const policy& active_policy() const { return *policy_; }
  const policy_options& options() const { return options_; }
  uint64_t placements() const { return placements_; }
  /// Dominant share of the cluster each owner's running tasks hold.
  std::map<std::string, double> owner_shares() const;
  /// Drops ended (done, failed, cancelled) tasks but the `keep` most recent (a bounded table).
  void forget_finished(std::size_t keep);

private:
  scheduler_core(policy_options options, cluster_state cluster, std::unique_ptr<policy> p);
  void free_resources(task_record& t);
  /// Starts the tasks whose victims have all stopped; puts the queued tasks due by `now` in
  /// `queue`.
  void start_unblocked(double now, std::vector<decision>& out, std::vector<queue_entry>& queue);
  /// The running tasks a pass may preempt, listed again only after a preemption changed them.
  struct preemption_candidates {
    std::vector<running_task> tasks;
    bool dirty = true;
  };
  /// Preempts running tasks of lower priority to place `t` when a plan exists (their preempt
  /// decisions go to `out`; `t` starts once they stopped); false when none does.
  bool preempt_for(task_record& t, preemption_candidates& running, std::vector<decision>& out);
  /// Moves a task to state `s`, keeping the pending and running sets and the shares in step.
  void set_state(task_record& t, task_state s);
  double backoff(uint32_t attempts) const;

  policy_options options_;
  cluster_state cluster_;
  std::shared_ptr<policy> policy_;
  task_table tasks_;
  std::unordered_set<uint64_t>
      pending_; ///< queued or starting: what a pass looks at, not every task
  std::unordered_set<uint64_t> running_;
  std::multiset<int> running_priorities_; ///< of preemptible running tasks: any victims at all?
  std::map<std::string, double> shares_;  ///< owner -> dominant share held
  std::deque<uint64_t> ended_;            ///< ended tasks, oldest first (forget_finished)
  uint64_t next_id_ = 1;
  uint64_t placements_ = 0;
  resources largest_; ///< the most any one node offers (threads, GPUs, GPU memory)
};

} // namespace llmos::scheduler
