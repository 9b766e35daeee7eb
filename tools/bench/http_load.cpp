#include "http_load.hpp"

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench_stats.hpp"

namespace llmos::bench {

using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// A prediction body; bytes of a text that are not UTF-8 (raw e-mails) become U+FFFD.
std::string body_of(const std::string& text) {
  return json{{"instances", {text}}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

load_result drive(uint16_t port, const std::string& model, const std::vector<std::string>& texts,
                  int clients, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  std::atomic<int> connected{0};
  std::atomic<bool> go{false};
  const auto path = "/v1/models/" + model + ":predict";
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client cli{"127.0.0.1", port};
      cli.set_read_timeout(60, 0);
      cli.set_connection_timeout(10, 0);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      std::size_t i = static_cast<std::size_t>(c) * 7;
      (void)cli.Post(path, body_of(texts[i % texts.size()]), "application/json");
      ++connected;
      while (!go)
        std::this_thread::sleep_for(1ms);
      while (!stop) {
        const auto body = body_of(texts[i++ % texts.size()]);
        const auto t0 = clock_type::now();
        auto r = cli.Post(path, body, "application/json");
        const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        if (!r || r->status != 200) {
          if (errors++ == 0)
            std::cerr << "  first error: "
                      << (r ? std::to_string(r->status) + " " + r->body
                            : "no answer (" + httplib::to_string(r.error()) + ")")
                      << "\n";
        } else
          lat[static_cast<std::size_t>(c)].push_back(ms);
      }
    });
  while (connected < clients)
    std::this_thread::sleep_for(1ms);
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  std::vector<double> all;
  for (auto& l : lat)
    all.insert(all.end(), l.begin(), l.end());
  load_result r;
  r.rps = static_cast<double>(all.size()) / seconds;
  r.p50_ms = percentile(all, 0.5);
  r.p99_ms = percentile(all, 0.99);
  r.errors = errors;
  return r;
}

bool wait_until_ready(uint16_t port) {
  httplib::Client web{"127.0.0.1", port};
  for (int i = 0; i < 300; ++i) {
    auto r = web.Get("/readyz");
    if (r && r->status == 200)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

} // namespace llmos::bench
