#include "scheduler/core/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <tuple>

#include "scheduler/core/scheduler_core.hpp"

namespace llmos::sched {

cluster_state make_sim_cluster(const sim_cluster_spec& spec) {
  cluster_state c;
  for (std::size_t i = 0; i < spec.nodes; ++i) {
    node_slot n;
    n.name = "n" + std::to_string(i);
    n.cpu_threads = spec.cpu_per_node;
    if (spec.gpu_node_every > 0 && i % spec.gpu_node_every == spec.gpu_node_every - 1)
      n.gpus.assign(spec.gpus_per_node, gpu_slot{spec.gpu_memory_mb, 0, 0});
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

} // namespace

caf::expected<sim_result> simulate(const std::vector<sim_job>& trace, const sim_cluster_spec& spec,
                                   const policy_options& policy, const sim_options& options) {
  auto made = scheduler_core::make(policy, make_sim_cluster(spec));
  if (!made)
    return std::move(made.error());
  auto& core = *made;
  sim_result res;
  res.policy = core.active_policy().name();
  res.jobs = trace.size();
  // (time, sequence, kind, index, token): the sequence keeps equal times in insertion order.
  using event = std::tuple<double, uint64_t, ev, uint64_t, uint64_t>;
  std::priority_queue<event, std::vector<event>, std::greater<>> events;
  uint64_t seq = 0;
  for (std::size_t i = 0; i < trace.size(); ++i)
    events.emplace(trace[i].arrival, seq++, ev::arrival, i, 0);
  if (options.fail_node_at >= 0)
    events.emplace(options.fail_node_at, seq++, ev::node_down, 0, 0);
  if (options.node_back_at >= 0)
    events.emplace(options.node_back_at, seq++, ev::node_up, 0, 0);
  std::map<uint64_t, job_run> runs; // task id -> run
  std::vector<double> jct;
  std::map<int, std::pair<double, std::size_t>> by_priority;
  double waits = 0, last_t = 0, cpu_acc = 0, gpu_acc = 0;
  std::size_t started_jobs = 0;
  auto thread_seconds = [&](const job_run& r, double until) {
    const auto& j = trace[r.job];
    const double w = options.share_window_s;
    const double from = w >= 0 ? std::min(r.started, w) : r.started;
    const double to = w >= 0 ? std::min(until, w) : until;
    return (to - from) * j.replicas * j.per_replica.cpu_threads;
  };
  // Work done since the last checkpoint is lost; the next run pays the restart cost.
  auto interrupt = [&](job_run& r, double now) {
    const double ran = now - r.started;
    const double kept = std::floor(ran / options.checkpoint_every_s) * options.checkpoint_every_s;
    res.owner_thread_seconds[trace[r.job].owner] += thread_seconds(r, now);
    r.remaining = std::max(0.0, r.remaining - kept) + options.restart_cost_s;
    r.started = -1;
    ++r.token;
  };
  while (!events.empty()) {
    const double now = std::get<0>(events.top());
    cpu_acc += static_cast<double>(core.cluster().cpu_used()) * (now - last_t);
    gpu_acc += static_cast<double>(core.cluster().gpu_used()) * (now - last_t);
    last_t = now;
    while (!events.empty() && std::get<0>(events.top()) == now) {
      auto [t, s, kind, index, token] = events.top();
      events.pop();
      if (kind == ev::arrival) {
        const auto& j = trace[index];
        task_request req;
        req.name = "job" + std::to_string(index);
        req.owner = j.owner;
        req.priority = j.priority;
        req.replicas = j.replicas;
        req.per_replica = j.per_replica;
        auto id = core.submit(std::move(req), now);
        if (!id)
          return std::move(id.error());
        runs[*id] = job_run{index, j.work_s, -1, -1, 0};
      } else if (kind == ev::finish) {
        auto& r = runs.at(index);
        if (token != r.token || r.started < 0)
          continue;
        res.owner_thread_seconds[trace[r.job].owner] += thread_seconds(r, now);
        core.finished(index, now);
        const double c = now - trace[r.job].arrival;
        jct.push_back(c);
        auto& bp = by_priority[trace[r.job].priority];
        bp.first += c;
        ++bp.second;
        r.started = -1;
      } else if (kind == ev::node_down) {
        for (const auto& [id, t] : core.tasks())
          if (t.state == task_state::running)
            for (const auto& slot : t.where)
              if (slot.node == index) {
                interrupt(runs.at(id), now);
                ++res.reschedules;
                break;
              }
        for (const auto& d : core.node_lost(index, now)) // other replicas of gangs stop too
          (void)d;
      } else {
        core.node_back(index);
      }
    }
    // Victims stop at once here, so whoever waited for them can start in the same instant:
    // schedule again until a pass preempts nothing.
    for (bool again = true; again;) {
      again = false;
      auto t0 = std::chrono::steady_clock::now();
      auto decisions = core.schedule(now);
      res.decide_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const auto& d : decisions) {
        auto& r = runs.at(d.task);
        if (d.what == decision::kind::preempt) {
          interrupt(r, now);
          ++res.preemptions;
          core.stopped(d.task, now);
          again = true;
          continue;
        }
        if (d.what != decision::kind::start)
          continue;
        if (d.where.size() != trace[r.job].replicas)
          res.gangs_whole = false;
        if (r.first_start < 0) {
          r.first_start = now;
          const double w = now - trace[r.job].arrival;
          waits += w;
          res.max_wait_s = std::max(res.max_wait_s, w);
          auto& mw = res.max_wait_by_owner[trace[r.job].owner];
          mw = std::max(mw, w);
          ++started_jobs;
        }
        r.started = now;
        events.emplace(now + r.remaining, seq++, ev::finish, d.task, r.token);
      }
    }
  }
  res.finished = jct.size();
  res.placements = core.placements();
  res.makespan_s = last_t;
  if (!jct.empty()) {
    double sum = 0;
    for (auto c : jct)
      sum += c;
    res.mean_jct_s = sum / static_cast<double>(jct.size());
    std::sort(jct.begin(), jct.end());
    res.p99_jct_s = jct[std::min(jct.size() - 1, static_cast<std::size_t>(0.99 * jct.size()))];
  }
  res.mean_wait_s = started_jobs ? waits / static_cast<double>(started_jobs) : 0;
  if (last_t > 0) {
    res.cpu_utilisation = cpu_acc / (static_cast<double>(core.cluster().cpu_total()) * last_t);
    if (core.cluster().gpu_total() > 0)
      res.gpu_utilisation = gpu_acc / (static_cast<double>(core.cluster().gpu_total()) * last_t);
  }
  for (const auto& [p, v] : by_priority)
    res.mean_jct_by_priority[std::to_string(p)] = v.first / static_cast<double>(v.second);
  return res;
}

} // namespace llmos::sched
