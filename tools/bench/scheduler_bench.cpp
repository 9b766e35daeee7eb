#include "scheduler_bench.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "llmos/messages/error.hpp"
#include "scheduler/core/scheduler_core.hpp"
#include "scheduler/core/simulator.hpp"

namespace llmos::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace llmos::scheduler;

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// A task of the placement workload: 1-8 threads, one replica (a tenth are 2-4 replica gangs).
task_request random_task(std::mt19937_64& rng) {
  task_request r;
  r.owner = "o";
  r.per_replica.cpu_threads = 1u << (rng() % 4);
  r.replicas = rng() % 10 == 0 ? 2 + static_cast<uint32_t>(rng() % 3) : 1;
  return r;
}

struct placement_figures {
  double burst_per_s = 0;
  std::size_t burst_placed = 0;
  double churn_per_s = 0;
};

/// Ours: a deep queue into an empty cluster (one pass), then steady churn.
placement_figures measure_ours(const scheduler_options& opts, const std::string& policy) {
  sim_cluster_spec spec;
  spec.nodes = opts.nodes;
  spec.gpu_node_every = 0;
  policy_options po;
  po.policy = policy;
  auto core = scheduler_core::make(po, make_sim_cluster(spec));
  if (!core)
    return {};
  std::mt19937_64 rng{1};
  const std::size_t deep = opts.nodes * 32 / 3; // more than fits (about 5 threads per task)
  for (std::size_t i = 0; i < deep; ++i)
    (void)core->submit(random_task(rng), 0);
  placement_figures f;
  auto t0 = clock_type::now();
  auto ds = core->schedule(0);
  f.burst_per_s = static_cast<double>(ds.size()) / since(t0);
  f.burst_placed = ds.size();
  // Churn on a fresh cluster filled to 85%: one task ends, one arrives, one pass. (On a full
  // cluster the queue would grow without end and the figure would measure the queue's length.)
  core = scheduler_core::make(po, make_sim_cluster(spec));
  std::vector<uint64_t> running;
  const double target = 0.85 * static_cast<double>(core->cluster().cpu_total());
  while (static_cast<double>(core->cluster().cpu_used()) < target) {
    (void)core->submit(random_task(rng), 0);
    for (const auto& d : core->schedule(0))
      running.push_back(d.task);
  }
  std::size_t placed = 0;
  double now = 1;
  t0 = clock_type::now();
  // Each ending task is replaced by one of the same shape, so the queue stays short and the
  // figure is the cost of a decision, not of a backlog (fragmentation shows in the trace table).
  std::unordered_map<uint64_t, task_request> shape;
  for (auto id : running)
    shape[id] = core->task(id)->req;
  for (std::size_t i = 0; i < opts.churn; ++i, now += 0.001) {
    const std::size_t k = rng() % running.size();
    core->finished(running[k], now);
    auto next = shape[running[k]];
    shape.erase(running[k]);
    running[k] = running.back();
    running.pop_back();
    auto id = core->submit(next, now);
    if (id)
      shape[*id] = next;
    for (const auto& d : core->schedule(now))
      if (d.what == decision::kind::start) {
        running.push_back(d.task);
        ++placed;
      }
    if (i % 4096 == 0)
      core->forget_finished(0);
  }
  f.churn_per_s = static_cast<double>(placed) / since(t0);
  return f;
}

/// Raw: the least-loaded placement anyone writes first, a scan of every node per replica.
double measure_raw(const scheduler_options& opts) {
  std::vector<uint32_t> used(opts.nodes, 0);
  const uint32_t cap = 32;
  std::mt19937_64 rng{1};
  auto place = [&](uint32_t threads) -> long {
    long best = -1;
    for (std::size_t n = 0; n < used.size(); ++n)
      if (used[n] + threads <= cap && (best < 0 || used[n] < used[static_cast<std::size_t>(best)]))
        best = static_cast<long>(n);
    if (best >= 0)
      used[static_cast<std::size_t>(best)] += threads;
    return best;
  };
  std::vector<std::pair<long, uint32_t>> running;
  uint64_t total = 0;
  while (static_cast<double>(total) < 0.85 * cap * static_cast<double>(opts.nodes)) {
    const uint32_t t = 1u << (rng() % 4);
    const long n = place(t);
    if (n < 0)
      break;
    running.emplace_back(n, t);
    total += t;
  }
  const std::size_t rounds = std::min<std::size_t>(opts.churn, 20000);
  std::size_t placed = 0;
  auto t0 = clock_type::now();
  for (std::size_t i = 0; i < rounds; ++i) {
    const std::size_t k = rng() % running.size();
    used[static_cast<std::size_t>(running[k].first)] -= running[k].second;
    const uint32_t t = running[k].second; // the same shape, as on our side
    running[k] = running.back();
    running.pop_back();
    const long n = place(t);
    if (n >= 0) {
      running.emplace_back(n, t);
      ++placed;
    }
  }
  return static_cast<double>(placed) / since(t0);
}

double measure_python(const scheduler_options& opts) {
  if (opts.python_script.empty())
    return 0;
  int rc = 0;
  auto out = command_output("/usr/bin/python3 " + opts.python_script + " --nodes " +
                                std::to_string(opts.nodes) + " --n 100000",
                            &rc);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (rc != 0 || j.is_discarded()) {
    std::cerr << "python peer failed: " << out << "\n";
    return 0;
  }
  return j.value("placements_per_s", 0.0);
}

} // namespace

int run_scheduler(const scheduler_options& opts) {
  nlohmann::json out;
  std::printf("placement on %zu simulated nodes of 32 threads (burst: a deep queue into an empty "
              "cluster; churn at 85%% use: one ends, one arrives, one pass)\n",
              opts.nodes);
  double best = 0;
  for (const std::string policy : {"least-loaded", "round-robin", "fifo", "priority"}) {
    auto f = measure_ours(opts, policy);
    std::printf("  llmos %-13s burst %9.0f placements/s (%zu placed)   churn %9.0f /s\n",
                policy.c_str(), f.burst_per_s, f.burst_placed, f.churn_per_s);
    out["burst_per_s_" + policy] = f.burst_per_s;
    out["churn_per_s_" + policy] = f.churn_per_s;
    if (policy == "least-loaded")
      best = f.churn_per_s;
  }
  const double raw = measure_raw(opts);
  const double py = measure_python(opts);
  std::printf("  raw least-loaded scan (no index)     churn %9.0f /s\n", raw);
  std::printf("  python heapq least-loaded            churn %9.0f /s\n", py);
  std::printf("  llmos least-loaded / raw %.1fx   / python %.1fx\n", raw > 0 ? best / raw : 0,
              py > 0 ? best / py : 0);
  out["placements_per_s"] = best;
  out["raw_placements_per_s"] = raw;
  out["python_placements_per_s"] = py;

  sim_cluster_spec spec;
  spec.nodes = opts.trace_nodes;
  auto trace = synthetic_trace(opts.trace_jobs, spec, 0.9, 42, 2 * 3600);
  std::printf("\npolicies on one trace: %zu jobs, %zu nodes (a quarter with 8 GPUs), offered "
              "load 0.9, run times log-normal around 10 min (cut at 2 h)\n",
              opts.trace_jobs, opts.trace_nodes);
  std::printf("  %-13s %10s %10s %10s %10s %9s %9s %8s %9s\n", "policy", "mean JCT", "p99 JCT",
              "mean wait", "prio-10 JCT", "CPU util", "GPU util", "preempt", "decide/s");
  for (const auto& name : policy_names()) {
    policy_options po;
    po.policy = name;
    auto r = simulate(trace, spec, po);
    if (!r) {
      std::cerr << describe(r.error()) << "\n";
      return 1;
    }
    const double rate =
        r->decide_seconds > 0 ? static_cast<double>(r->placements) / r->decide_seconds : 0;
    std::printf("  %-13s %9.0fs %9.0fs %9.0fs %10.0fs %8.1f%% %8.1f%% %8llu %9.0f\n", name.c_str(),
                r->mean_jct_s, r->p99_jct_s, r->mean_wait_s, r->mean_jct_by_priority["10"],
                100 * r->cpu_utilisation, 100 * r->gpu_utilisation,
                static_cast<unsigned long long>(r->preemptions), rate);
    out[name + "_mean_jct_s"] = r->mean_jct_s;
    out[name + "_p99_jct_s"] = r->p99_jct_s;
    out[name + "_mean_wait_s"] = r->mean_wait_s;
    out[name + "_cpu_utilisation"] = r->cpu_utilisation;
    out[name + "_preemptions"] = r->preemptions;
  }
  if (!opts.json_path.empty()) {
    std::ofstream f{opts.json_path};
    f << out.dump(2) << "\n";
  }
  return 0;
}

} // namespace llmos::bench
