#include "llm_serving_load.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "model/formats/llama_weights.hpp"

namespace llmos::bench::llm_load {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

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

} // namespace

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

} // namespace llmos::bench::llm_load
