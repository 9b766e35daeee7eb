#include "llm_serving_bench.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "bench_rpc.hpp"
#include "bench_stats.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "llm_bench.hpp"
#include "llm_serving_load.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

using llm_load::drive;
using llm_load::drive_llamacpp;
using llm_load::load;
using llm_load::prompt_source;
using llm_load::workload;

std::string fmt(double x, int digits = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string ratio(double a, double b) {
  return a > 0 && b > 0 ? fmt(a / b, 2) + "x" : "-";
}

/// What the steps of run_llm_serving hand on to each other, filled in the order they run.
struct llm_serving_run {
  std::string checkpoint; ///< llama2.c's stories260K, imported into the node's registry
  model::llama_weights weights;
  std::optional<dataset::llama_tokenizer> tok;
  std::string source; ///< real text the prompts are cut from
  fs::path dir;       ///< the node's topology and logs, the GGUF export, the peer's requests
  uint16_t port = 0, rpc = 0, http = 0;
  std::string gguf;         ///< the weights exported for llama.cpp
  std::string peer_skipped; ///< why llama.cpp does not run ("" = it does)
};

/// stories260K's weights and tokenizer, and the text to cut prompts from; false with the reason
/// printed.
bool load_model(const llm_serving_options& o, llm_serving_run& run) {
  const fs::path model_dir = fs::path{o.models_dir} / "stories260K";
  run.checkpoint = (model_dir / "stories260K.bin").string();
  auto weights = model::read_llama2c(run.checkpoint, (model_dir / "tok512.bin").string());
  if (!weights) {
    std::cerr << "llmos-bench llm-serving: " << describe(weights.error())
              << " (run tools/setup/setup.sh with the shared models beside the checkout)\n";
    return false;
  }
  auto tok = dataset::llama_tokenizer::create(weights->vocab);
  if (!tok)
    return std::cerr << describe(tok.error()) << "\n", false;
  run.weights = std::move(*weights);
  run.tok = std::move(*tok);
  std::ifstream story_in{model_dir / "expected-greedy-200.txt"};
  std::stringstream story;
  story << story_in.rdbuf();
  run.source = prompt_source(o.text_dir, story.str());
  return true;
}

/// A one-node cluster: the registry, a continuously batching server, a one-at-a-time server of
/// the same model, and the HTTP gateway in front of both.
void write_topology(llm_serving_run& run) {
  run.dir = fs::temp_directory_path() / ("llmos-bench-llm-serving-" + std::to_string(::getpid()));
  fs::create_directories(run.dir);
  run.port = free_port();
  run.rpc = free_port();
  run.http = free_port();
  std::ofstream(run.dir / "topology.yaml")
      << "cluster: bench\nnodes:\n  - name: a\n    host: 127.0.0.1\n    port: " << run.port
      << "\n    rpc_port: " << run.rpc << "\n    actors:\n"
      << "      - {name: registry, kind: registry, config: {root: " << (run.dir / "models").string()
      << "}}\n"
      << "      - {name: batched, kind: server, config: {model: stories}}\n"
      << "      - {name: single, kind: server, config: {model: stories-single, "
         "continuous_batching: false}}\n"
      << "      - {name: web, kind: http, config: {port: " << run.http << ", threads: 72}}\n";
}

/// The checkpoint imported as both servers' models; false with the reason printed.
bool import_models(const llm_serving_run& run) {
  for (const char* name : {"stories", "stories-single"}) {
    auto imported = call(
        run.rpc, json::array({"registry",
                              "import",
                              {{"model", name}, {"format", "llama2c"}, {"path", run.checkpoint}}}));
    auto alias =
        call(run.rpc, json::array({"registry",
                                   "alias",
                                   {{"model", name}, {"alias", "production"}, {"version", "1"}}}));
    if (imported.contains("error") || alias.contains("error"))
      return std::cerr << "llm-serving: import failed: " << imported.dump() << alias.dump() << "\n",
             false;
  }
  return true;
}

/// Both servers answer before anything is timed.
void wait_for_servers(uint16_t http) {
  httplib::Client web{"127.0.0.1", http};
  web.set_read_timeout(60, 0);
  for (const char* model : {"stories", "stories-single"})
    for (int i = 0; i < 300; ++i) {
      auto r = web.Post("/v1/completions",
                        json{{"model", model}, {"prompt", "Hi"}, {"max_tokens", 4}}.dump(),
                        "application/json");
      if (r && r->status == 200)
        break;
      std::this_thread::sleep_for(100ms);
    }
}

/// The llama.cpp peer made ready (node-llama-cpp installed, the weights exported), or why not.
void prepare_peer(const llm_serving_options& o, llm_serving_run& run) {
  run.gguf = (run.dir / "stories260K-f32.gguf").string();
  if (o.peer_script.empty())
    run.peer_skipped = "not asked for";
  else if (auto why = ensure_node_llama_cpp(o.npm_prefix, run.dir); !why.empty())
    run.peer_skipped = why;
  else if (auto err =
               model::write_gguf(run.weights, run.gguf, model::gguf_tensor_type::f32, "stories"))
    run.peer_skipped = "write_gguf failed: " + describe(err);
}

void print_table_header() {
  std::printf("llmos-bench llm-serving: stories260K behind the HTTP gateway, streaming clients, "
              "prompts of 16-128 tokens of real text, 128-256 tokens generated each (greedy; "
              "EOS may end one earlier), one CPU thread per engine\n\n");
  std::printf("  %-8s %-10s %-22s %-22s %-12s %-12s %-12s %s\n", "clients", "requests",
              "llmos tok/s", "one-at-a-time tok/s", "llama.cpp", "TTFT p50/p99", "ITL p50/p99",
              "llama.cpp TTFT/ITL p99");
}

/// One load level: the same requests through the batching server, the one-at-a-time server and
/// llama.cpp.
struct level {
  int clients = 0;
  std::size_t requests = 0;
  load batched, single, llamacpp;
};

level measure_level(const llm_serving_options& o, const llm_serving_run& run, int n) {
  level lv;
  lv.clients = n;
  const auto reqs = workload(*run.tok, run.source, std::max(2 * n, 8), n);
  lv.requests = reqs.size();
  lv.batched = drive(run.http, "stories", reqs, n);
  lv.single = drive(run.http, "stories-single", reqs, n);
  lv.llamacpp.skipped = run.peer_skipped;
  if (run.peer_skipped.empty())
    lv.llamacpp = drive_llamacpp(o, run.gguf, run.weights, reqs, n, run.dir);
  return lv;
}

/// The level's line of the table and its keys in `sheet`.
void report_level(const level& lv, result_sheet& sheet) {
  const auto& b = lv.batched;
  const auto& s = lv.single;
  const auto& l = lv.llamacpp;
  const auto k = std::to_string(lv.clients);
  const double ttft50 = percentile(b.ttft_ms, 0.5), ttft99 = percentile(b.ttft_ms, 0.99);
  const double itl50 = percentile(b.itl_ms, 0.5), itl99 = percentile(b.itl_ms, 0.99);
  std::printf("  %-8d %-10zu %-22s %-22s %-12s %-12s %-12s %s\n", lv.clients, lv.requests,
              (fmt(b.tps) + " (" + ratio(b.tps, s.tps) + ")").c_str(), fmt(s.tps).c_str(),
              l.skipped.empty() ? (fmt(l.tps) + " (" + ratio(b.tps, l.tps) + ")").c_str() : "-",
              (fmt(ttft50, 1) + "/" + fmt(ttft99, 1)).c_str(),
              (fmt(itl50, 2) + "/" + fmt(itl99, 2)).c_str(),
              l.skipped.empty() ? (fmt(percentile(l.ttft_ms, 0.99), 1) + "/" +
                                   fmt(percentile(l.itl_ms, 0.99), 2) + " ms")
                                      .c_str()
                                : "-");
  sheet.set("tps_c" + k, b.tps);
  sheet.set("single_tps_c" + k, s.tps);
  sheet.set("tokens_c" + k, static_cast<double>(b.tokens));
  sheet.set("ttft_p50_ms_c" + k, ttft50);
  sheet.set("ttft_p99_ms_c" + k, ttft99);
  sheet.set("itl_p50_ms_c" + k, itl50);
  sheet.set("itl_p99_ms_c" + k, itl99);
  sheet.set("single_ttft_p99_ms_c" + k, percentile(s.ttft_ms, 0.99));
  sheet.set("single_itl_p99_ms_c" + k, percentile(s.itl_ms, 0.99));
  if (l.skipped.empty()) {
    sheet.set("llamacpp_tps_c" + k, l.tps);
    sheet.set("llamacpp_ttft_p99_ms_c" + k, percentile(l.ttft_ms, 0.99));
    sheet.set("llamacpp_itl_p99_ms_c" + k, percentile(l.itl_ms, 0.99));
  }
}

/// How batching scales from 1 to 16 clients, the peer's fate and the errors.
void print_summary(const llm_serving_run& run, std::map<int, load>& batched_by_n, uint64_t errors) {
  const auto& c1 = batched_by_n[1];
  const auto& c16 = batched_by_n[16];
  std::printf("\n  tokens/s at 16 clients = %s at 1 (aim >= 6x); inter-token p99 at 16 = %s at 1 "
              "(aim <= 3x)",
              ratio(c16.tps, c1.tps).c_str(),
              ratio(percentile(c16.itl_ms, 0.99), percentile(c1.itl_ms, 0.99)).c_str());
  if (!run.peer_skipped.empty())
    std::printf("\n  llama.cpp: skipped (%s)", run.peer_skipped.c_str());
  std::printf("\n  errors: %llu; logs in %s\n", static_cast<unsigned long long>(errors),
              run.dir.c_str());
}

} // namespace

int run_llm_serving(const llm_serving_options& o) {
  llm_serving_run run;
  if (!load_model(o, run))
    return 1;
  write_topology(run);
  const std::string cmd = node_command(o.node_path, run.dir);
  child_process node{{"/bin/sh", "-c", cmd}, "", 10s}; // up until this returns
  const bool up =
      wait_until_answers(run.rpc, json::array({"registry", "versions", json::object()}));
  if (!up)
    return std::cerr << "llm-serving: the node did not start (see " << run.dir << "/node.log)\n", 1;
  if (!import_models(run))
    return 1;
  wait_for_servers(run.http);
  prepare_peer(o, run);
  print_table_header();
  result_sheet sheet;
  uint64_t errors = 0;
  std::map<int, load> batched_by_n;
  for (int n : {1, 4, 16, 64}) {
    auto lv = measure_level(o, run, n);
    errors += lv.batched.errors + lv.single.errors;
    report_level(lv, sheet);
    batched_by_n[n] = std::move(lv.batched);
  }
  sheet.set("errors", static_cast<double>(errors));
  print_summary(run, batched_by_n, errors);
  if (!o.json_path.empty())
    std::ofstream(o.json_path) << sheet.json() << "\n";
  return errors == 0 ? 0 : 1;
}

} // namespace llmos::bench
