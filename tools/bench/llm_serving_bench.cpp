#include "llm_serving_bench.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "bench_rpc.hpp"
#include "bench_stats.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "llm_bench.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// One request of the workload: the prompt (text for llmos, its token ids for llama.cpp) and
/// the tokens to generate; `client` works through its requests one after another.
struct request {
  std::string text;
  std::vector<int32_t> ids;
  int max_tokens = 0;
  int client = 0;
};

/// What one load level measured.
struct load {
  double tps = 0;
  uint64_t tokens = 0;
  std::vector<double> ttft_ms, itl_ms;
  uint64_t errors = 0;
  std::string skipped;
};

/// Real text to cut prompts from: the fortunes data set's English files, else the model's
/// published story.
std::string prompt_source(const std::string& text_dir, const std::string& fallback) {
  std::string all;
  if (!text_dir.empty() && fs::is_directory(text_dir))
    for (const char* f : {"computers", "cookie", "fortunes", "literature", "people", "wisdom"}) {
      std::ifstream in{fs::path{text_dir} / f};
      std::stringstream s;
      s << in.rdbuf();
      for (char ch : s.str())
        all += ch == '%' ? ' ' : ch;
    }
  return all.size() > 10000 ? all : fallback;
}

/// `count` requests: prompts of 16-128 tokens from windows of `source`, 128-256 tokens each.
std::vector<request> workload(const dataset::llama_tokenizer& tok, const std::string& source,
                              int count, int clients) {
  const auto ids = tok.encode(source);
  std::vector<request> out;
  for (int i = 0; i < count; ++i) {
    const auto len = static_cast<std::size_t>(16 + (i * 37) % 113);
    const auto at = static_cast<std::size_t>(i) * 997 % (ids.size() - len);
    std::vector<int32_t> window(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                ids.begin() + static_cast<std::ptrdiff_t>(at + len));
    request r;
    auto text = tok.decode(window);
    r.text = text ? *text : "";
    r.ids = tok.encode(r.text); // what the server sees
    r.max_tokens = 128 + (i * 71) % 129;
    r.client = i % clients;
    out.push_back(std::move(r));
  }
  return out;
}

/// Streams one completion; adds its first-token and inter-token times and its tokens.
bool stream_one(httplib::Client& cli, const std::string& model, const request& r, load& into,
                std::mutex& m) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body =
      json{{"model", model},   {"prompt", r.text}, {"max_tokens", r.max_tokens},
           {"temperature", 0}, {"stream", true},   {"stream_options", {{"include_usage", true}}}}
          .dump();
  std::string buf;
  std::vector<double> ttft, itl;
  uint64_t tokens = 0;
  const auto start = clock_type::now();
  auto last = start;
  bool first = true;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buf.append(data, n);
    for (auto end = buf.find("\n\n"); end != std::string::npos; end = buf.find("\n\n")) {
      const auto event = buf.substr(0, end);
      buf.erase(0, end + 2);
      if (event.rfind("data: {", 0) != 0)
        continue;
      auto j = json::parse(event.substr(6), nullptr, false);
      if (j.is_discarded())
        continue;
      if (j.contains("usage") && j["usage"].is_object())
        tokens = j["usage"].value("completion_tokens", 0);
      if (!j.contains("choices") || j["choices"].empty() ||
          j["choices"][0].value("text", "").empty())
        continue;
      const auto now = clock_type::now();
      (first ? ttft : itl)
          .push_back(
              std::chrono::duration<double, std::milli>(now - (first ? start : last)).count());
      first = false;
      last = now;
    }
    return true;
  };
  auto res = cli.send(req);
  if (!res || res->status != 200 || tokens == 0)
    return false;
  std::lock_guard lock{m};
  into.ttft_ms.insert(into.ttft_ms.end(), ttft.begin(), ttft.end());
  into.itl_ms.insert(into.itl_ms.end(), itl.begin(), itl.end());
  into.tokens += tokens;
  return true;
}

/// `clients` threads, each streaming its requests one after another; tokens/s over the whole.
load drive(uint16_t port, const std::string& model, const std::vector<request>& reqs, int clients) {
  load out;
  std::mutex m;
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  // Every client connects (one small request on its keep-alive connection) before the clock
  // starts: connection set-up is not what is measured.
  std::atomic<int> connected{0};
  std::atomic<bool> go{false};
  clock_type::time_point start;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client cli{"127.0.0.1", port};
      cli.set_read_timeout(300, 0);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      (void)cli.Post("/v1/completions",
                     json{{"model", model}, {"prompt", "Hi"}, {"max_tokens", 1}}.dump(),
                     "application/json");
      ++connected;
      while (!go)
        std::this_thread::sleep_for(1ms);
      for (const auto& r : reqs)
        if (r.client == c && !stream_one(cli, model, r, out, m))
          ++errors;
    });
  while (connected < clients)
    std::this_thread::sleep_for(1ms);
  start = clock_type::now();
  go = true;
  for (auto& t : threads)
    t.join();
  const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  out.tps = static_cast<double>(out.tokens) / secs;
  out.errors = errors;
  return out;
}

/// The same requests through llama.cpp with `clients` parallel sequences.
load drive_llamacpp(const llm_serving_options& o, const std::string& gguf,
                    const model::llama_weights& w, const std::vector<request>& reqs, int clients,
                    const fs::path& dir) {
  load out;
  json list = json::array();
  for (const auto& r : reqs)
    list.push_back({{"prompt", r.ids}, {"max_tokens", r.max_tokens}, {"client", r.client}});
  const auto file = dir / ("requests-" + std::to_string(clients) + ".json");
  std::ofstream(file) << list.dump();
  int rc = 0;
  const auto text = command_output(
      "node '" + o.peer_script + "' --modules '" + o.npm_prefix + "' --model '" + gguf +
          "' --threads 1 --clients " + std::to_string(clients) + " --requests '" + file.string() +
          "' --bos " + std::to_string(w.vocab.bos) + " --eos " + std::to_string(w.vocab.eos) +
          " --context " + std::to_string(w.config.seq_len) + " 2>'" + (dir / "peer.log").string() +
          "'",
      &rc);
  auto j = json::parse(text, nullptr, false);
  if (rc != 0 || !j.is_object()) {
    out.skipped = "the llama.cpp peer failed (see " + (dir / "peer.log").string() + ")";
    return out;
  }
  if (j.contains("skipped")) {
    out.skipped = j["skipped"];
    return out;
  }
  out.tps = j.value("tps", 0.0);
  out.tokens = j.value("tokens", 0);
  out.ttft_ms = j["ttft_ms"].get<std::vector<double>>();
  out.itl_ms = j["itl_ms"].get<std::vector<double>>();
  return out;
}

std::string fmt(double x, int digits = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string ratio(double a, double b) {
  return a > 0 && b > 0 ? fmt(a / b, 2) + "x" : "-";
}

} // namespace

int run_llm_serving(const llm_serving_options& o) {
  const fs::path model_dir = fs::path{o.models_dir} / "stories260K";
  const auto checkpoint = (model_dir / "stories260K.bin").string();
  auto weights = model::read_llama2c(checkpoint, (model_dir / "tok512.bin").string());
  if (!weights) {
    std::cerr << "llmos-bench llm-serving: " << describe(weights.error())
              << " (run tools/setup/setup.sh with the shared models beside the checkout)\n";
    return 1;
  }
  auto tok = dataset::llama_tokenizer::create(weights->vocab);
  if (!tok)
    return std::cerr << describe(tok.error()) << "\n", 1;
  std::ifstream story_in{model_dir / "expected-greedy-200.txt"};
  std::stringstream story;
  story << story_in.rdbuf();
  const auto source = prompt_source(o.text_dir, story.str());

  const auto dir =
      fs::temp_directory_path() / ("llmos-bench-llm-serving-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const uint16_t port = free_port(), rpc = free_port(), http = free_port();
  std::ofstream(dir / "topology.yaml")
      << "cluster: bench\nnodes:\n  - name: a\n    host: 127.0.0.1\n    port: " << port
      << "\n    rpc_port: " << rpc << "\n    actors:\n"
      << "      - {name: registry, kind: registry, config: {root: " << (dir / "models").string()
      << "}}\n"
      << "      - {name: batched, kind: server, config: {model: stories}}\n"
      << "      - {name: single, kind: server, config: {model: stories-single, "
         "continuous_batching: false}}\n"
      << "      - {name: web, kind: http, config: {port: " << http << ", threads: 72}}\n";
  const std::string cmd = node_command(o.node_path, dir);
  child_process node{{"/bin/sh", "-c", cmd}, "", 10s};
  const bool up = wait_until_answers(rpc, json::array({"registry", "versions", json::object()}));
  if (!up)
    return std::cerr << "llm-serving: the node did not start (see " << dir << "/node.log)\n", 1;
  for (const char* name : {"stories", "stories-single"}) {
    auto imported =
        call(rpc, json::array({"registry",
                               "import",
                               {{"model", name}, {"format", "llama2c"}, {"path", checkpoint}}}));
    auto alias =
        call(rpc, json::array({"registry",
                               "alias",
                               {{"model", name}, {"alias", "production"}, {"version", "1"}}}));
    if (imported.contains("error") || alias.contains("error"))
      return std::cerr << "llm-serving: import failed: " << imported.dump() << alias.dump() << "\n",
             1;
  }
  // Both servers answer before anything is timed.
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

  std::string peer_skipped;
  const auto gguf = (dir / "stories260K-f32.gguf").string();
  if (o.peer_script.empty())
    peer_skipped = "not asked for";
  else if (auto why = ensure_node_llama_cpp(o.npm_prefix, dir); !why.empty())
    peer_skipped = why;
  else if (auto err = model::write_gguf(*weights, gguf, model::gguf_tensor_type::f32, "stories"))
    peer_skipped = "write_gguf failed: " + describe(err);

  std::printf("llmos-bench llm-serving: stories260K behind the HTTP gateway, streaming clients, "
              "prompts of 16-128 tokens of real text, 128-256 tokens generated each (greedy; "
              "EOS may end one earlier), one CPU thread per engine\n\n");
  std::printf("  %-8s %-10s %-22s %-22s %-12s %-12s %-12s %s\n", "clients", "requests",
              "llmos tok/s", "one-at-a-time tok/s", "llama.cpp", "TTFT p50/p99", "ITL p50/p99",
              "llama.cpp TTFT/ITL p99");
  result_sheet sheet;
  uint64_t errors = 0;
  std::map<int, load> batched_by_n;
  for (int n : {1, 4, 16, 64}) {
    const auto reqs = workload(*tok, source, std::max(2 * n, 8), n);
    auto b = drive(http, "stories", reqs, n);
    auto s = drive(http, "stories-single", reqs, n);
    load l;
    l.skipped = peer_skipped;
    if (peer_skipped.empty())
      l = drive_llamacpp(o, gguf, *weights, reqs, n, dir);
    errors += b.errors + s.errors;
    const auto k = std::to_string(n);
    const double ttft50 = percentile(b.ttft_ms, 0.5), ttft99 = percentile(b.ttft_ms, 0.99);
    const double itl50 = percentile(b.itl_ms, 0.5), itl99 = percentile(b.itl_ms, 0.99);
    std::printf("  %-8d %-10zu %-22s %-22s %-12s %-12s %-12s %s\n", n, reqs.size(),
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
    batched_by_n[n] = std::move(b);
  }
  sheet.set("errors", static_cast<double>(errors));
  const auto& c1 = batched_by_n[1];
  const auto& c16 = batched_by_n[16];
  std::printf("\n  tokens/s at 16 clients = %s at 1 (aim >= 6x); inter-token p99 at 16 = %s at 1 "
              "(aim <= 3x)",
              ratio(c16.tps, c1.tps).c_str(),
              ratio(percentile(c16.itl_ms, 0.99), percentile(c1.itl_ms, 0.99)).c_str());
  if (!peer_skipped.empty())
    std::printf("\n  llama.cpp: skipped (%s)", peer_skipped.c_str());
  std::printf("\n  errors: %llu; logs in %s\n", static_cast<unsigned long long>(errors),
              dir.c_str());
  if (!o.json_path.empty())
    std::ofstream(o.json_path) << sheet.json() << "\n";
  return errors == 0 ? 0 : 1;
}

} // namespace llmos::bench
