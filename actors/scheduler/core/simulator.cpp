#include "scheduler/core/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <tuple>

#include "scheduler/core/scheduler_core.hpp"

namespace llmos::scheduler {

cluster_state make_sim_cluster(const sim_cluster_spec& spec) {
  cluster_state c;
  for (std::size_t i = 0; i < spec.nodes; ++i) {
    node_slot n;
    n.name = "n" + std::to_string(i);
    n.cpu_threads = spec.cpu_per_node;
    if (spec.gpu_node_every > 0 && i % spec.gpu_node_every == spec.gpu_node_every - 1)
      n.gpus.assign(spec.gpus_per_node, gpu_slot{spec.gpu_memory_mb, 0, 0, "", 0});
    c.add_node(std::move(n));
  }
  return c;
}

namespace {

enum class ev : uint8_t { arrival, finish, node_down, node_up };

struct job_run {
  std::size_t job = 0;
  double remaining = 0; ///< work left
  double started = -1;  ///< start of the current run
  double first_start = -1;
  uint64_t token = 0; ///< finish events of earlier runs are stale
};

/// A discrete-event run of a trace through the scheduler core: events in time order, the
/// scheduler asked after every instant, the figures gathered as it goes.
class simulation {
public:
  simulation(const std::vector<sim_job>& trace, const sim_options& options, scheduler_core& core)
      : trace_(trace), options_(options), core_(core) {
    res_.policy = core_.active_policy().name();
    res_.jobs = trace_.size();
    for (std::size_t i = 0; i < trace_.size(); ++i)
      push(trace_[i].arrival, ev::arrival, i, 0);
    if (options_.fail_node_at >= 0)
      push(options_.fail_node_at, ev::node_down, 0, 0);
    if (options_.node_back_at >= 0)
      push(options_.node_back_at, ev::node_up, 0, 0);
  }

  caf::expected<sim_result> run() {
    while (!events_.empty()) {
      const double now = std::get<0>(events_.top());
      advance_clock(now);
      while (!events_.empty() && std::get<0>(events_.top()) == now) {
        auto [t, s, kind, index, token] = events_.top();
        events_.pop();
        if (auto err = handle(kind, index, token, now))
          return err;
      }
      schedule(now);
    }
    return summary();
  }

private:
  // (time, sequence, kind, index, token): the sequence keeps equal times in insertion order.
  using event = std::tuple<double, uint64_t, ev, uint64_t, uint64_t>;

  void push(double t, ev kind, uint64_t index, uint64_t token) {
    events_.emplace(t, seq_++, kind, index, token);
  }

  /// Resource use integrated over the time since the last event.
  void advance_clock(double now) {
    cpu_acc_ += static_cast<double>(core_.cluster().cpu_used()) * (now - last_t_);
    gpu_acc_ += static_cast<double>(core_.cluster().gpu_used()) * (now - last_t_);
    last_t_ = now;
  }

  caf::error handle(ev kind, uint64_t index, uint64_t token, double now) {
    switch (kind) {
    case ev::arrival:
      return arrive(index, now);
    case ev::finish:
      finish(index, token, now);
      break;
    case ev::node_down:
      node_down(index, now);
      break;
    case ev::node_up:
      core_.node_back(index);
      break;
    }
    return {};
  }

  caf::error arrive(std::size_t index, double now) {
    const auto& j = trace_[index];
    task_request req;
    req.name = "job" + std::to_string(index);
    req.owner = j.owner;
    req.priority = j.priority;
    req.replicas = j.replicas;
    req.per_replica = j.per_replica;
    auto id = core_.submit(std::move(req), now);
    if (!id)
      return std::move(id.error());
    runs_[*id] = job_run{index, j.work_s, -1, -1, 0};
    return {};
  }

  void finish(uint64_t task, uint64_t token, double now) {
    auto& r = runs_.at(task);
    if (token != r.token || r.started < 0)
      return; // a run that was interrupted since
    res_.owner_thread_seconds[trace_[r.job].owner] += thread_seconds(r, now);
    core_.finished(task, now);
    const double c = now - trace_[r.job].arrival;
    jct_.push_back(c);
    auto& bp = by_priority_[trace_[r.job].priority];
    bp.first += c;
    ++bp.second;
    r.started = -1;
  }

  void node_down(std::size_t node, double now) {
    for (const auto& [id, t] : core_.tasks())
      if (t.state == task_state::running)
        for (const auto& slot : t.where)
          if (slot.node == node) {
            interrupt(runs_.at(id), now);
            ++res_.reschedules;
            break;
          }
    for (const auto& d : core_.node_lost(node, now)) // other replicas of gangs stop too
      (void)d;
  }

  double thread_seconds(const job_run& r, double until) const {
    const auto& j = trace_[r.job];
    const double w = options_.share_window_s;
    const double from = w >= 0 ? std::min(r.started, w) : r.started;
    const double to = w >= 0 ? std::min(until, w) : until;
    return (to - from) * j.replicas * j.per_replica.cpu_threads;
  }

  /// Work done since the last checkpoint is lost; the next run pays the restart cost.
  void interrupt(job_run& r, double now) {
    const double ran = now - r.started;
    const double kept = std::floor(ran / options_.checkpoint_every_s) * options_.checkpoint_every_s;
    res_.owner_thread_seconds[trace_[r.job].owner] += thread_seconds(r, now);
    r.remaining = std::max(0.0, r.remaining - kept) + options_.restart_cost_s;
    r.started = -1;
    ++r.token;
  }

  /// Victims stop at once here, so whoever waited for them can start in the same instant:
  /// schedule again until a pass preempts nothing.
  void schedule(double now) {
    for (bool again = true; again;) {
      again = false;
      auto t0 = std::chrono::steady_clock::now();
      auto decisions = core_.schedule(now);
      res_.decide_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const auto& d : decisions) {
        if (d.what == decision::kind::preempt) {
          interrupt(runs_.at(d.task), now);
          ++res_.preemptions;
          core_.stopped(d.task, now);
          again = true;
        } else if (d.what == decision::kind::start) {
          start(d, now);
        }
      }
    }
  }

  void start(const decision& d, double now) {
    auto& r = runs_.at(d.task);
    if (d.where.size() != trace_[r.job].replicas)
      res_.gangs_whole = false;
    if (r.first_start < 0) {
      r.first_start = now;
      const double w = now - trace_[r.job].arrival;
      waits_ += w;
      res_.max_wait_s = std::max(res_.max_wait_s, w);
      auto& mw = res_.max_wait_by_owner[trace_[r.job].owner];
      mw = std::max(mw, w);
      ++started_jobs_;
    }
    r.started = now;
    push(now + r.remaining, ev::finish, d.task, r.token);
  }

  sim_result summary() {
    res_.finished = jct_.size();
    res_.placements = core_.placements();
    res_.makespan_s = last_t_;
    if (!jct_.empty()) {
      double sum = 0;
      for (auto c : jct_)
        sum += c;
      res_.mean_jct_s = sum / static_cast<double>(jct_.size());
      std::sort(jct_.begin(), jct_.end());
      res_.p99_jct_s =
          jct_[std::min(jct_.size() - 1, static_cast<std::size_t>(0.99 * jct_.size()))];
    }
    res_.mean_wait_s = started_jobs_ ? waits_ / static_cast<double>(started_jobs_) : 0;
    const auto& cluster = core_.cluster();
    if (last_t_ > 0) {
      res_.cpu_utilisation = cpu_acc_ / (static_cast<double>(cluster.cpu_total()) * last_t_);
      if (cluster.gpu_total() > 0)
        res_.gpu_utilisation = gpu_acc_ / (static_cast<double>(cluster.gpu_total()) * last_t_);
    }
    for (const auto& [p, v] : by_priority_)
      res_.mean_jct_by_priority[std::to_string(p)] = v.first / static_cast<double>(v.second);
    return res_;
  }

  const std::vector<sim_job>& trace_;
  const sim_options& options_;
  scheduler_core& core_;
  sim_result res_;
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  uint64_t seq_ = 0;
  std::map<uint64_t, job_run> runs_; ///< task id -> run
  std::vector<double> jct_;
  std::map<int, std::pair<double, std::size_t>> by_priority_;
  double waits_ = 0, last_t_ = 0, cpu_acc_ = 0, gpu_acc_ = 0;
  std::size_t started_jobs_ = 0;
};

} // namespace

caf::expected<sim_result> simulate(const std::vector<sim_job>& trace, const sim_cluster_spec& spec,
                                   const policy_options& policy, const sim_options& options) {
  auto made = scheduler_core::make(policy, make_sim_cluster(spec));
  if (!made)
    return std::move(made.error());
  return simulation{trace, options, *made}.run();
}

} // namespace llmos::scheduler
