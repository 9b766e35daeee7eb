#include "serving_bench.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

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

} // namespace

int run_serving(const serving_options& opts) {
  const auto dir =
      fs::temp_directory_path() / ("llmos-bench-serving-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_spam_pipeline(dir);
  const uint16_t port = free_port(), rpc = free_port(), http = free_port();
  std::ofstream(dir / "topology.yaml") << topology(dir, opts.model, port, rpc, http);
  const int steps = opts.train_steps > 0 ? opts.train_steps : opts.model == "bag" ? 150 : 20;
  const std::string cmd = node_command(opts.node_path, dir);
  child_process node{{"/bin/sh", "-c", cmd}, "", 10s};
  std::cout << "llmos-bench serving: node on " << http << ", logs in " << dir << "\n";
  const bool up = wait_until_answers(rpc, json::array({"spam-data", "stats", json::object()}));
  if (!up)
    return std::cerr << "llmos-bench serving: the node did not start (see node.log)\n", 1;
  std::cout << "  ingesting SpamAssassin and training spam-" << opts.model << " (" << steps
            << " steps) ...\n";
  if (!ok(call(rpc, json::array({"spam-data", "ingest", json::object()})), "ingest") ||
      !ok(call(rpc, json::array({"trainer",
                                 "train",
                                 {{"dataset", "spam-data"},
                                  {"max_steps", std::to_string(steps)},
                                  {"warmup_steps", "5"},
                                  {"eval_every", "0"}}})),
          "train"))
    return 1;
  for (const char* name : {"spam", "spam-single"}) {
    if (!ok(call(rpc,
                 json::array({"trainer", "publish", {{"dataset", "spam-data"}, {"name", name}}})),
            "publish") ||
        !ok(call(rpc, json::array({"registry",
                                   "alias",
                                   {{"model", name}, {"alias", "production"}, {"version", "1"}}})),
            "alias"))
      return 1;
  }
  (void)wait_until_ready(http); // a gateway not ready shows in the errors of the runs below
  // Real validation texts as requests; the ceiling uses the same version's rows.
  auto store = dataset::dataset_store::open((dir / "store").string(), {});
  if (!store)
    return std::cerr << describe(store.error()) << "\n", 1;
  auto stats = call(rpc, json::array({"spam-data", "stats", json::object()}));
  auto info = store->read("spam", stats.value("version", ""));
  if (!info)
    return std::cerr << describe(info.error()) << "\n", 1;
  auto view = dataset::dataset_view::load(*store, *info);
  if (!view)
    return std::cerr << describe(view.error()) << "\n", 1;
  std::vector<std::string> texts;
  for (const auto& r : view->split("validation"))
    texts.push_back(r.text.substr(0, 2000));
  const auto checkpoint = (dir / "spam.ckpt").string();
  if (!ok(call(rpc, json::array({"trainer", "save", {{"path", checkpoint}}})), "save"))
    return 1;
  const auto [ceiling, ceiling_batch] = ceiling_rps(checkpoint, *view);

  result_sheet sheet;
  std::cout << "\n  " << std::left << std::setw(12) << "clients" << std::setw(22) << "batched rps"
            << std::setw(22) << "single rps"
            << "batched/single\n";
  double best = 0;
  load_result best_b, best_s;
  int best_c = 0;
  for (int clients : {1, 4, 16, 64}) {
    auto b = drive(http, "spam", texts, clients, opts.seconds);
    auto s = drive(http, "spam-single", texts, clients, opts.seconds);
    std::ostringstream bt, st;
    bt << std::fixed << std::setprecision(0) << b.rps << " (p99 " << std::setprecision(1)
       << b.p99_ms << " ms)";
    st << std::fixed << std::setprecision(0) << s.rps << " (p99 " << std::setprecision(1)
       << s.p99_ms << " ms)";
    std::cout << "  " << std::setw(12) << clients << std::setw(22) << bt.str() << std::setw(22)
              << st.str() << std::setprecision(2) << std::fixed << (s.rps > 0 ? b.rps / s.rps : 0)
              << "x" << (b.errors + s.errors ? "  ERRORS" : "") << "\n";
    const auto c = std::to_string(clients);
    sheet.set("batched_rps_c" + c, b.rps);
    sheet.set("single_rps_c" + c, s.rps);
    sheet.set("batched_p99_ms_c" + c, b.p99_ms);
    sheet.set("single_p99_ms_c" + c, s.p99_ms);
    sheet.set("errors_c" + c, static_cast<double>(b.errors + s.errors));
    if (b.rps > best) {
      best = b.rps;
      best_b = b;
      best_s = s;
      best_c = clients;
    }
  }
  auto mean_batch = call(rpc, json::array({"batched", "status", json::object()}));
  std::cout << "\n  ceiling (raw forward, no HTTP, best batch size " << ceiling_batch
            << "): " << std::fixed << std::setprecision(0) << ceiling << " rows/s\n"
            << "  at " << best_c << " clients: batched " << best_b.rps
            << " rps = " << std::setprecision(2) << (best_s.rps > 0 ? best_b.rps / best_s.rps : 0)
            << "x one-at-a-time, " << (ceiling > 0 ? best_b.rps / ceiling : 0)
            << "x the ceiling; p99 " << std::setprecision(1) << best_b.p99_ms << " ms vs "
            << best_s.p99_ms << " ms; mean batch " << mean_batch.value("mean_batch", 0.0) << "\n";
  sheet.set("batched_rps", best_b.rps);
  sheet.set("single_rps", best_s.rps);
  sheet.set("ceiling_rps", ceiling);
  sheet.set("ceiling_batch", ceiling_batch);
  sheet.set("batched_p99_ms", best_b.p99_ms);
  sheet.set("single_p99_ms", best_s.p99_ms);
  sheet.set("peak_clients", best_c);
  sheet.set("batched_over_single", best_s.rps > 0 ? best_b.rps / best_s.rps : 0);
  sheet.set("batched_over_ceiling", ceiling > 0 ? best_b.rps / ceiling : 0);
  sheet.set("mean_batch", mean_batch.value("mean_batch", 0.0));
  std::cout << "  model spam-" << opts.model << "\n";
  if (opts.wrk) {
    // wrk (one epoll thread) loads the server far less than 64 client threads in this process.
    std::cout << "  wrk (outside load generator, one thread):\n";
    for (int c : {16, 64}) {
      auto [brps, bp99] = run_wrk(http, "spam", dir, texts.front(), c, opts.seconds);
      auto [srps, sp99] = run_wrk(http, "spam-single", dir, texts.front(), c, opts.seconds);
      std::cout << "    " << c << " connections: batched " << std::fixed << std::setprecision(0)
                << brps << " rps (p99 " << std::setprecision(1) << bp99 << " ms), single "
                << std::setprecision(0) << srps << " rps (p99 " << std::setprecision(1) << sp99
                << " ms): " << std::setprecision(2) << (srps > 0 ? brps / srps : 0) << "x, "
                << (ceiling > 0 ? brps / ceiling : 0) << "x the ceiling\n";
      const auto k = std::to_string(c);
      sheet.set("wrk_batched_rps_c" + k, brps);
      sheet.set("wrk_single_rps_c" + k, srps);
      sheet.set("wrk_batched_p99_ms_c" + k, bp99);
      sheet.set("wrk_single_p99_ms_c" + k, sp99);
    }
  }
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << sheet.json() << "\n";
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

} // namespace llmos::bench
