#include "tuner_bench.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "bench_rpc.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

struct study_figures {
  std::string algorithm;
  double compute = 0; ///< steps handed out in all
  double best = 0;    ///< best accuracy at the full budget
  double seconds = 0; ///< wall time
  json history;       ///< [compute, rung, value, trial] per result
  int top_rung = 0;
};

std::string study_yaml(const tuner_options& o, const std::string& algorithm, int trials,
                       const fs::path& dir) {
  std::ostringstream y;
  const bool spam = o.task == "spam";
  y << "study: bench-" << algorithm << "\nmodel: " LLMOS_SOURCE_DIR "/nodes/examples/models/"
    << (spam ? "spam-bag" : "quotes-topic") << ".yaml\n"
    << "dataset: data\nalgorithm: " << algorithm << "\nmetric: accuracy\nmode: max\n"
    << "trials: " << trials << "\nmin_resource: " << o.min_steps
    << "\nmax_resource: " << o.max_steps << "\nreduction: 3\nparallel: 2\nseed: 7\n"
    << "overrides: {eval_every: 0, warmup_steps: 10}\n"
    << "space:\n  lr: {type: log_uniform, low: 0.0001, high: 0.1}\n"
    << "  hidden_dim: {type: choice, values: [32, 64, 128]}\n"
    << "  embed_dim: {type: choice, values: [16, 32, 64]}\n"
    << "  dropout: {type: uniform, low: 0.0, high: 0.5}\n";
  const auto path = dir / ("study-" + algorithm + ".yaml");
  std::ofstream(path) << y.str();
  return path.string();
}

bool run_study(uint16_t rpc, const std::string& file, study_figures& f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto started = call(rpc, json::array({"tuner", "study", {{"file", file}}}));
  if (started.contains("error")) {
    std::cerr << "llmos-bench tuner: " << started.dump() << "\n";
    return false;
  }
  const std::string name = started.value("name", "");
  auto done = call(rpc, json::array({"tuner", "wait", {{"study", name}}}), 3600s);
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (done.value("state", "") != "done") {
    std::cerr << "llmos-bench tuner: study " << name << ": " << done.dump() << "\n";
    return false;
  }
  f.compute = done.value("compute_used", 0.0);
  // The history is in the status the tuner keeps on disk; the gateway shows the summary, so the
  // bench reads the study's state file.
  return true;
}
/// DIR/data.yaml: the task's example pipeline with its store in DIR/store.
void write_pipeline(const tuner_options& opts, const fs::path& dir) {
  std::ifstream in{std::string{LLMOS_SOURCE_DIR "/nodes/examples/pipelines/"} + opts.task +
                   ".yaml"};
  std::ofstream out{dir / "data.yaml"};
  out << "root: " << (dir / "store").string() << "\n" << in.rdbuf();
}

/// DIR/topology.yaml: one node with a two-thread CPU device, the data, a scheduler and a tuner.
void write_topology(const fs::path& dir, uint16_t port, uint16_t rpc) {
  std::ofstream(dir / "topology.yaml")
      << "cluster: bench\nnodes:\n  - name: a\n    host: 127.0.0.1\n    port: " << port
      << "\n    rpc_port: " << rpc << "\n    actors:\n"
      << "      - {name: cpu-a, kind: device, config: {type: cpu, threads: 2}}\n"
      << "      - {name: data, kind: dataset, config: {pipeline: " << (dir / "data.yaml").string()
      << "}}\n"
      << "      - {name: sched, kind: scheduler, config: {root: " << (dir / "sched").string()
      << "}}\n"
      << "      - {name: tuner, kind: tuner, config: {scheduler: sched, registry: \"\", root: "
      << (dir / "studies").string() << "}}\n";
}

/// True once the started node answers and has ingested the task's data.
bool node_ready(uint16_t rpc, const fs::path& dir) {
  const bool up = wait_until_answers(rpc, json::array({"data", "stats", json::object()}));
  if (!up)
    return std::cerr << "llmos-bench tuner: the node did not start (see " << dir << ")\n", false;
  if (call(rpc, json::array({"data", "ingest", json::object()})).contains("error"))
    return std::cerr << "llmos-bench tuner: ingest failed\n", false;
  return true;
}

/// The study's history from its state file, its top rung and the best value reached there.
void read_history(const fs::path& dir, study_figures& f) {
  std::ifstream in{dir / "studies" / ("bench-" + f.algorithm) / "study.json"};
  auto state = json::parse(in, nullptr, false);
  f.history = state.is_discarded() ? json::array() : state.value("history", json::array());
  for (const auto& h : f.history)
    f.top_rung = std::max(f.top_rung, h[1].get<int>());
  for (const auto& h : f.history)
    if (h[1].get<int>() == f.top_rung)
      f.best = std::max(f.best, h[2].get<double>());
}

/// Random search, ASHA and Hyperband in turn, in that order (random search sets the target).
bool run_studies(const tuner_options& opts, uint16_t rpc, const fs::path& dir,
                 std::vector<study_figures>& studies) {
  for (const std::string algorithm : {"random", "asha", "hyperband"}) {
    study_figures f;
    f.algorithm = algorithm;
    const int trials = algorithm == "random" ? opts.trials : opts.adaptive_trials;
    if (!run_study(rpc, study_yaml(opts, algorithm, trials, dir), f))
      return false;
    read_history(dir, f);
    studies.push_back(f);
  }
  return true;
}

/// The compute used when `s` first reported a fully trained trial at `target`; -1 if never.
double compute_to_target(const study_figures& s, double target) {
  for (const auto& h : s.history)
    if (h[1].get<int>() == s.top_rung && h[2].get<double>() >= target)
      return h[0].get<double>();
  return -1;
}

std::string to_target_text(double to_target, double fraction) {
  if (to_target < 0)
    return "not reached";
  return std::to_string(static_cast<long>(to_target)) + " (" +
         std::to_string(static_cast<int>(100 * fraction)) + "%)";
}

/// The table and the JSON figures of every study against random search's best.
json report_studies(const std::vector<study_figures>& studies) {
  const auto& random = studies[0];
  const double target = 0.99 * random.best;
  json out;
  std::printf("  %-10s %12s %10s %14s %9s\n", "algorithm", "compute", "best acc", "to target",
              "seconds");
  for (const auto& s : studies) {
    const double to_target = compute_to_target(s, target);
    const double fraction = to_target >= 0 ? to_target / random.compute : -1;
    std::printf("  %-10s %12.0f %10.4f %14s %9.1f\n", s.algorithm.c_str(), s.compute, s.best,
                to_target_text(to_target, fraction).c_str(), s.seconds);
    out[s.algorithm + "_compute"] = s.compute;
    out[s.algorithm + "_best"] = s.best;
    out[s.algorithm + "_seconds"] = s.seconds;
    out[s.algorithm + "_compute_to_target"] = to_target;
    if (s.algorithm != "random")
      out[s.algorithm + "_compute_fraction"] = fraction;
  }
  std::printf("  target: within 1%% of random search's best (%.4f); compute = training steps\n",
              random.best);
  return out;
}

} // namespace

int run_tuner(const tuner_options& opts) {
  const auto dir = fs::temp_directory_path() / ("llmos-bench-tuner-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_pipeline(opts, dir);
  const uint16_t port = free_port(), rpc = free_port();
  write_topology(dir, port, rpc);
  const std::string cmd = node_command(opts.node_path, dir);
  child_process node{{"/bin/sh", "-c", cmd}, "", 10s}; // stopped when run_tuner returns
  if (!node_ready(rpc, dir))
    return 1;
  std::printf("llmos-bench tuner: %s, random %d trials, ASHA/Hyperband up "
              "to %d, %d..%d steps, 2 at a time (logs in %s)\n",
              opts.task == "spam" ? "spam-bag on SpamAssassin" : "quotes-topic on fortunes",
              opts.trials, opts.adaptive_trials, opts.min_steps, opts.max_steps, dir.c_str());
  std::vector<study_figures> studies;
  if (!run_studies(opts, rpc, dir, studies))
    return 1;
  const json out = report_studies(studies);
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << out.dump(2) << "\n";
  return 0;
}

} // namespace llmos::bench
