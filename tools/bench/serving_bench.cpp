#include "serving_bench.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>
#include <tuple>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "bench_rpc.hpp"
#include "bench_stats.hpp"
#include "dataset/dataset_view.hpp"
#include "dataset/store/dataset_store.hpp"
#include "http_load.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "model/train/engine.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr uint32_t max_batch = 32;

bool ok(const json& j, const std::string& what) {
  if (!j.contains("error"))
    return true;
  std::cerr << "llmos-bench serving: " << what << " failed: " << j.dump() << "\n";
  return false;
}

/// The raw forward pass: the published checkpoint in this process on real validation rows, one
/// thread (as a replica's device has), at batch sizes 1..max_batch; the best rows/s is the
/// ceiling (on CPU the largest batch is not always the fastest per row).
std::pair<double, uint32_t> ceiling_rps(const std::string& checkpoint,
                                        const dataset::dataset_view& view) {
  auto eng = model::engine::load(checkpoint);
  if (!eng)
    return {0, 0};
  model::engine::use_threads(1);
  const auto& records = view.split("validation");
  double best = 0;
  uint32_t best_batch = 0;
  for (uint32_t n = 1; n <= max_batch; n *= 2) {
    tensor_bytes batch;
    batch.dtype = "i32";
    batch.shape = {n, view.max_length()};
    batch.data.resize(n * view.max_length() * sizeof(int32_t));
    for (uint32_t k = 0; k < n; ++k) {
      std::vector<int32_t> row(view.max_length(), view.pad_id());
      const auto& tokens = records[k % records.size()].tokens;
      std::copy_n(tokens.begin(), std::min(tokens.size(), row.size()), row.begin());
      std::memcpy(batch.data.data() + k * row.size() * 4, row.data(), row.size() * 4);
    }
    (void)(*eng)->infer(batch); // warm-up
    const auto t0 = clock_type::now();
    int batches = 0;
    while (std::chrono::duration<double>(clock_type::now() - t0).count() < 1.0) {
      (void)(*eng)->infer(batch);
      ++batches;
    }
    const double rps = batches * n / std::chrono::duration<double>(clock_type::now() - t0).count();
    if (rps > best) {
      best = rps;
      best_batch = n;
    }
  }
  return {best, best_batch};
}

/// wrk against a model's endpoint: requests/s and its p99 (ms), or {0, 0} without wrk.
std::pair<double, double> run_wrk(uint16_t port, const std::string& model, const fs::path& dir,
                                  const std::string& text, int connections, double seconds) {
  if (!fs::exists("/usr/bin/wrk"))
    return {0, 0};
  const auto script = dir / "post.lua";
  std::ofstream(script) << "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = "
                           "\"application/json\"\nwrk.body = [["
                        << json{{"instances", {text}}}.dump() << "]]\n";
  std::ostringstream cmd;
  cmd << "/usr/bin/wrk -t1 -c" << connections << " -d" << static_cast<int>(seconds)
      << "s --latency -s " << script.string() << " http://127.0.0.1:" << port << "/v1/models/"
      << model << ":predict 2>&1";
  const auto out = command_output(cmd.str());
  double rps = 0, p99 = 0;
  std::istringstream lines{out};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words{line};
    std::string first, value;
    words >> first >> value;
    if (first == "Requests/sec:")
      rps = std::stod(value);
    if (first == "99%") {
      p99 = std::stod(value);
      if (value.find("us") != std::string::npos)
        p99 /= 1000.0;
      else if (value.find("ms") == std::string::npos)
        p99 *= 1000.0; // seconds
    }
  }
  return {rps, p99};
}

std::string topology(const fs::path& dir, const std::string& model, uint16_t port, uint16_t rpc,
                     uint16_t http) {
  std::ostringstream t;
  t << "cluster: bench\nnodes:\n  - name: a\n    host: 127.0.0.1\n    port: " << port
    << "\n    rpc_port: " << rpc << "\n    actors:\n"
    << "      - {name: spam-data, kind: dataset, config: {pipeline: "
    << (dir / "spam.yaml").string() << "}}\n"
    << "      - {name: trainer, kind: model, config: {spec: " LLMOS_SOURCE_DIR
       "/nodes/examples/models/spam-"
    << model << ".yaml}}\n"
    << "      - {name: registry, kind: registry, config: {root: " << (dir / "models").string()
    << "}}\n"
    << "      - {name: batched, kind: server, config: {model: spam, max_batch: " << max_batch
    << ", max_delay_us: 2000, queue_limit: 4096}}\n"
    << "      - {name: single, kind: server, config: {model: spam-single, max_batch: 1, "
       "max_delay_us: 0, queue_limit: 4096}}\n"
    << "      - {name: web, kind: http, config: {port: " << http
    << ", threads: 96, feedback: " << (dir / "feedback.jsonl").string() << "}}\n";
  return t.str();
}

/// What the steps of run_serving share: the node's directory and ports, the request texts, the
/// ceiling, and the client count where batching did best.
struct serving_run {
  fs::path dir;
  uint16_t port = 0, rpc = 0, http = 0;
  int steps = 0;
  std::vector<std::string> texts;
  double ceiling = 0;
  uint32_t ceiling_batch = 0;
  load_result best_b, best_s;
  int best_c = 0;
};

/// A fresh directory with the pipeline and the topology of the node to start.
serving_run prepare_node_dir(const serving_options& opts) {
  serving_run run;
  run.dir = fs::temp_directory_path() / ("llmos-bench-serving-" + std::to_string(::getpid()));
  fs::create_directories(run.dir);
  write_spam_pipeline(run.dir);
  run.port = free_port();
  run.rpc = free_port();
  run.http = free_port();
  std::ofstream(run.dir / "topology.yaml")
      << topology(run.dir, opts.model, run.port, run.rpc, run.http);
  run.steps = opts.train_steps > 0 ? opts.train_steps : opts.model == "bag" ? 150 : 20;
  return run;
}

/// Ingests, trains, and publishes the classifier under both served names.
bool train_and_publish(const serving_options& opts, const serving_run& run) {
  const auto rpc = run.rpc;
  std::cout << "  ingesting SpamAssassin and training spam-" << opts.model << " (" << run.steps
            << " steps) ...\n";
  if (!ok(call(rpc, json::array({"spam-data", "ingest", json::object()})), "ingest") ||
      !ok(call(rpc, json::array({"trainer",
                                 "train",
                                 {{"dataset", "spam-data"},
                                  {"max_steps", std::to_string(run.steps)},
                                  {"warmup_steps", "5"},
                                  {"eval_every", "0"}}})),
          "train"))
    return false;
  for (const char* name : {"spam", "spam-single"}) {
    if (!ok(call(rpc,
                 json::array({"trainer", "publish", {{"dataset", "spam-data"}, {"name", name}}})),
            "publish") ||
        !ok(call(rpc, json::array({"registry",
                                   "alias",
                                   {{"model", name}, {"alias", "production"}, {"version", "1"}}})),
            "alias"))
      return false;
  }
  return true;
}

// Real validation texts as requests; the ceiling uses the same version's rows.
bool load_texts_and_ceiling(serving_run& run) {
  auto store = dataset::dataset_store::open((run.dir / "store").string(), {});
  if (!store)
    return std::cerr << describe(store.error()) << "\n", false;
  auto stats = call(run.rpc, json::array({"spam-data", "stats", json::object()}));
  auto info = store->read("spam", stats.value("version", ""));
  if (!info)
    return std::cerr << describe(info.error()) << "\n", false;
  auto view = dataset::dataset_view::load(*store, *info);
  if (!view)
    return std::cerr << describe(view.error()) << "\n", false;
  for (const auto& r : view->split("validation"))
    run.texts.push_back(r.text.substr(0, 2000));
  const auto checkpoint = (run.dir / "spam.ckpt").string();
  if (!ok(call(run.rpc, json::array({"trainer", "save", {{"path", checkpoint}}})), "save"))
    return false;
  std::tie(run.ceiling, run.ceiling_batch) = ceiling_rps(checkpoint, *view);
  return true;
}

std::string rps_and_p99(const load_result& r) {
  std::ostringstream t;
  t << std::fixed << std::setprecision(0) << r.rps << " (p99 " << std::setprecision(1) << r.p99_ms
    << " ms)";
  return t.str();
}

/// Both served names at rising client counts, a row each; keeps the count where batching did best.
void drive_clients(const serving_options& opts, serving_run& run, result_sheet& sheet) {
  std::cout << "\n  " << std::left << std::setw(12) << "clients" << std::setw(22) << "batched rps"
            << std::setw(22) << "single rps"
            << "batched/single\n";
  double best = 0;
  for (int clients : {1, 4, 16, 64}) {
    auto b = drive(run.http, "spam", run.texts, clients, opts.seconds);
    auto s = drive(run.http, "spam-single", run.texts, clients, opts.seconds);
    std::cout << "  " << std::setw(12) << clients << std::setw(22) << rps_and_p99(b)
              << std::setw(22) << rps_and_p99(s) << std::setprecision(2) << std::fixed
              << (s.rps > 0 ? b.rps / s.rps : 0) << "x" << (b.errors + s.errors ? "  ERRORS" : "")
              << "\n";
    const auto c = std::to_string(clients);
    sheet.set("batched_rps_c" + c, b.rps);
    sheet.set("single_rps_c" + c, s.rps);
    sheet.set("batched_p99_ms_c" + c, b.p99_ms);
    sheet.set("single_p99_ms_c" + c, s.p99_ms);
    sheet.set("errors_c" + c, static_cast<double>(b.errors + s.errors));
    if (b.rps > best) {
      best = b.rps;
      run.best_b = b;
      run.best_s = s;
      run.best_c = clients;
    }
  }
}

/// The best client count against one-at-a-time serving and the ceiling.
void report_peak(const serving_options& opts, const serving_run& run, result_sheet& sheet) {
  const auto& b = run.best_b;
  const auto& s = run.best_s;
  const double ceiling = run.ceiling;
  auto mean_batch = call(run.rpc, json::array({"batched", "status", json::object()}));
  std::cout << "\n  ceiling (raw forward, no HTTP, best batch size " << run.ceiling_batch
            << "): " << std::fixed << std::setprecision(0) << ceiling << " rows/s\n"
            << "  at " << run.best_c << " clients: batched " << b.rps
            << " rps = " << std::setprecision(2) << (s.rps > 0 ? b.rps / s.rps : 0)
            << "x one-at-a-time, " << (ceiling > 0 ? b.rps / ceiling : 0) << "x the ceiling; p99 "
            << std::setprecision(1) << b.p99_ms << " ms vs " << s.p99_ms << " ms; mean batch "
            << mean_batch.value("mean_batch", 0.0) << "\n";
  sheet.set("batched_rps", b.rps);
  sheet.set("single_rps", s.rps);
  sheet.set("ceiling_rps", ceiling);
  sheet.set("ceiling_batch", run.ceiling_batch);
  sheet.set("batched_p99_ms", b.p99_ms);
  sheet.set("single_p99_ms", s.p99_ms);
  sheet.set("peak_clients", run.best_c);
  sheet.set("batched_over_single", s.rps > 0 ? b.rps / s.rps : 0);
  sheet.set("batched_over_ceiling", ceiling > 0 ? b.rps / ceiling : 0);
  sheet.set("mean_batch", mean_batch.value("mean_batch", 0.0));
  std::cout << "  model spam-" << opts.model << "\n";
}

// wrk (one epoll thread) loads the server far less than 64 client threads in this process.
void run_wrk_rows(const serving_options& opts, const serving_run& run, result_sheet& sheet) {
  std::cout << "  wrk (outside load generator, one thread):\n";
  const auto& text = run.texts.front();
  for (int c : {16, 64}) {
    auto [brps, bp99] = run_wrk(run.http, "spam", run.dir, text, c, opts.seconds);
    auto [srps, sp99] = run_wrk(run.http, "spam-single", run.dir, text, c, opts.seconds);
    std::cout << "    " << c << " connections: batched " << std::fixed << std::setprecision(0)
              << brps << " rps (p99 " << std::setprecision(1) << bp99 << " ms), single "
              << std::setprecision(0) << srps << " rps (p99 " << std::setprecision(1) << sp99
              << " ms): " << std::setprecision(2) << (srps > 0 ? brps / srps : 0) << "x, "
              << (run.ceiling > 0 ? brps / run.ceiling : 0) << "x the ceiling\n";
    const auto k = std::to_string(c);
    sheet.set("wrk_batched_rps_c" + k, brps);
    sheet.set("wrk_single_rps_c" + k, srps);
    sheet.set("wrk_batched_p99_ms_c" + k, bp99);
    sheet.set("wrk_single_p99_ms_c" + k, sp99);
  }
}

} // namespace

int run_serving(const serving_options& opts) {
  auto run = prepare_node_dir(opts);
  const std::string cmd = node_command(opts.node_path, run.dir);
  child_process node{{"/bin/sh", "-c", cmd}, "", 10s}; // stopped when run_serving returns
  std::cout << "llmos-bench serving: node on " << run.http << ", logs in " << run.dir << "\n";
  const bool up = wait_until_answers(run.rpc, json::array({"spam-data", "stats", json::object()}));
  if (!up)
    return std::cerr << "llmos-bench serving: the node did not start (see node.log)\n", 1;
  if (!train_and_publish(opts, run))
    return 1;
  (void)wait_until_ready(run.http); // a gateway not ready shows in the errors of the runs below
  if (!load_texts_and_ceiling(run))
    return 1;
  result_sheet sheet;
  drive_clients(opts, run, sheet);
  report_peak(opts, run, sheet);
  if (opts.wrk)
    run_wrk_rows(opts, run, sheet);
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << sheet.json() << "\n";
  std::error_code ec;
  fs::remove_all(run.dir, ec);
  return 0;
}

} // namespace llmos::bench
