#include "chaos_run.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "cluster_harness.hpp"
#include "process_helper.hpp"

namespace llmos::chaos {
namespace {

using nlohmann::json;
using test::child_process;
using test::rpc_call;
using test::rpc_send;
using test::write_file;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

bool failed(const json& j) {
  return j.is_object() && j.contains("error");
}

/// The three nodes: a (the seed: registry, feedback analyst), b (data set, trainer), c (the
/// server). Every actor has the default restart policy (on-failure).
class cluster {
public:
  explicit cluster(const std::filesystem::path& dir) : dir_(dir) {
    const auto ports = test::free_ports(6);
    for (std::size_t i = 0; i < names_.size(); ++i)
      ports_[names_[i]] = {ports[2 * i], ports[2 * i + 1]};
    std::string words;
    for (int i = 0; i < 120; ++i)
      words += json{{"text",
                     std::string{i % 2 ? "engine market " : "river garden "} + std::to_string(i)},
                    {"label", i % 2 ? "b" : "a"}}
                   .dump() +
               "\n";
    write_file(dir_ / "words.jsonl", words);
    write_file(dir_ / "pipeline.yaml", "dataset: words\nroot: store\n"
                                       "sources:\n"
                                       "  - {name: r, kind: jsonl, path: words.jsonl,\n"
                                       "     options: {label_field: label}}\n"
                                       "split: {train: 0.8, validation: 0.2, test: 0.0}\n"
                                       "tokenizer: {kind: byte, max_length: 32}\n");
    write_file(dir_ / "bag.yaml", "model: m\narchitecture: bag\n"
                                  "hyper: {embed_dim: 16, dropout: 0.0}\n"
                                  "train: {lr: 0.02, batch_size: 16, max_steps: 20, "
                                  "warmup_steps: 2, eval_every: 0}\n");
    std::ostringstream t;
    t << "cluster: chaos\n" << test::fast_heartbeat << "nodes:\n";
    const std::map<std::string, std::string> actors{
        {"a", "      - {name: registry, kind: registry, config: {root: models}}\n"
              "      - {name: fb, kind: feedback, config: {root: fb-state, fsync: every}}\n"},
        {"b", "      - {name: words, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
              "      - {name: trainer, kind: model, config: {spec: bag.yaml}}\n"},
        {"c", "      - {name: m-server, kind: server, config: {model: m, version: latest, "
              "feedback: fb, device: cpu-c}}\n"}};
    for (const auto& n : names_)
      t << "  - name: " << n << "\n    host: 127.0.0.1\n    port: " << ports_[n].first
        << "\n    rpc_port: " << ports_[n].second << "\n    actors:\n"
        << "      - {name: cpu-" << n << ", kind: device, config: {type: cpu, threads: 1}}\n"
        << actors.at(n);
    write_file(dir_ / "topology.yaml", t.str());
  }

  const std::vector<std::string>& names() const { return names_; }
  uint16_t rpc(const std::string& node) const { return ports_.at(node).second; }

  static const std::vector<std::string>& actors() {
    static const std::vector<std::string> all{"cpu-a", "registry", "fb",    "cpu-b",
                                              "words", "trainer",  "cpu-c", "m-server"};
    return all;
  }

  /// Starts `node` (its log: NODE-N.log, one per start) and waits until it answers ping.
  bool start(const std::string& node) {
    std::lock_guard lock(mutex_);
    const auto log = dir_ / (node + "-" + std::to_string(++starts_[node]) + ".log");
    procs_[node] = child_process::start({test::program("llmos-node"), "--topology",
                                         (dir_ / "topology.yaml").string(), "--node", node},
                                        log);
    return test::wait_until([&] { return test::rpc_ping(rpc(node)); }, 20s, 100ms);
  }

  void kill(const std::string& node) {
    std::lock_guard lock(mutex_);
    procs_[node].stop(SIGKILL);
  }

  bool running(const std::string& node) {
    std::lock_guard lock(mutex_);
    return procs_[node].running();
  }

private:
  std::filesystem::path dir_;
  std::vector<std::string> names_{"a", "b", "c"};
  std::map<std::string, std::pair<uint16_t, uint16_t>> ports_;
  std::map<std::string, child_process> procs_;
  std::map<std::string, int> starts_;
  std::mutex mutex_;
};

/// What the load saw: counters, and the acknowledged feedback and versions to look for later.
struct load_stats {
  std::atomic<int> predicted{0}, predict_failed{0}, feedback_failed{0}, train_failed{0};
  std::mutex mutex;
  std::vector<std::string> acked_feedback; ///< request ids whose feedback was acknowledged
  std::set<int> acked_versions;            ///< versions publish answered
};

/// Calls RPC `method` with `params` through the first node of `order` that answers; the last
/// error otherwise.
json through_any(cluster& c, const std::vector<std::string>& order, const json& params,
                 std::chrono::seconds timeout, const std::string& method = "send") {
  json last;
  for (const auto& n : order) {
    last = rpc_call(c.rpc(n), method, params, timeout);
    if (!failed(last))
      return last;
  }
  return last;
}

void steady_load(cluster& c, load_stats& s, clock_type::time_point until) {
  std::mt19937 rng(7);
  auto next_train = clock_type::now() + 3s;
  for (int i = 0; clock_type::now() < until; ++i) {
    std::vector<std::string> order{"c", "b", "a"};
    std::rotate(order.begin(), order.begin() + i % 3, order.end());
    const std::string text = i % 2 ? "engine market 7" : "river garden 4";
    auto r = through_any(c, order, json::array({"m-server", "predict", {{"text", text}}}), 10s);
    if (failed(r) || !r.contains("request_id")) {
      ++s.predict_failed;
      std::this_thread::sleep_for(100ms);
    } else {
      ++s.predicted;
      const auto id = r.value("request_id", "");
      auto ack = through_any(
          c, order, json::array({"fb", "feedback", {{"request_id", id}, {"label", "a"}}}), 10s);
      if (!failed(ack) && ack.value("durable", false)) {
        std::lock_guard lock(s.mutex);
        s.acked_feedback.push_back(id);
      } else {
        ++s.feedback_failed;
      }
    }
    if (clock_type::now() >= next_train) {
      next_train = clock_type::now() + 8s;
      auto trained =
          through_any(c, order, json::array({"trainer", "train", {{"dataset", "words"}}}), 60s);
      auto pub =
          failed(trained)
              ? trained
              : through_any(c, order, json::array({"trainer", "publish", {{"dataset", "words"}}}),
                            60s);
      if (failed(pub) || !pub.contains("version")) {
        ++s.train_failed;
      } else {
        std::lock_guard lock(s.mutex);
        s.acked_versions.insert(pub.value("version", 0));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 30));
  }
}

/// A call to node a's gateway.
json send(cluster& c, const json& params) {
  return rpc_send(c.rpc("a"), params, 60s);
}

/// Every node started, then the first version: data ingested, a model trained and published,
/// the server serving it. What failed, if anything.
std::optional<std::string> set_up(cluster& c, load_stats& stats) {
  for (const auto& n : c.names())
    if (!c.start(n))
      return "node " + n + " did not start";
  for (const auto& p : {json::array({"words", "ingest", json::object()}),
                        json::array({"trainer", "train", {{"dataset", "words"}}}),
                        json::array({"trainer", "publish", {{"dataset", "words"}}})})
    if (auto r = send(c, p); failed(r))
      return "setup call " + p.dump() + " failed: " + r.dump();
  stats.acked_versions.insert(1);
  test::wait_until(
      [&] {
        return send(c, json::array({"m-server", "status", json::object()})).value("version", 0) >=
               1;
      },
      30s, 200ms);
  return std::nullopt;
}

/// The load and the kills side by side until `seconds` pass: every interval a random node is
/// killed with -9 and restarted, or a random actor is killed; what was tried.
json kill_under_load(cluster& c, load_stats& stats, const chaos_options& opts) {
  const auto until = clock_type::now() + std::chrono::seconds(opts.seconds);
  std::thread load([&] { steady_load(c, stats, until); });
  std::mt19937_64 rng(opts.seed);
  json kills = json::array();
  std::vector<std::string> victims_nodes =
      opts.kill_seed ? std::vector<std::string>{"a", "b", "c"} : std::vector<std::string>{"b", "c"};
  while (clock_type::now() + std::chrono::milliseconds(opts.interval_ms) < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(opts.interval_ms));
    const bool node_kill = rng() % 2 == 0;
    if (node_kill) {
      const auto& n = victims_nodes[rng() % victims_nodes.size()];
      c.kill(n);
      std::this_thread::sleep_for(500ms);
      const auto t0 = clock_type::now();
      const bool back = c.start(n);
      kills.push_back({{"node", n},
                       {"restarted", back},
                       {"restart_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                          clock_type::now() - t0)
                                          .count()}});
    } else {
      std::vector<std::string> actors;
      for (const auto& a : cluster::actors())
        if (a.rfind("cpu-", 0) != 0)
          actors.push_back(a);
      const auto& a = actors[rng() % actors.size()];
      auto r = through_any(c, c.names(), json::array({a}), 10s, "kill");
      kills.push_back({{"actor", a}, {"answered", !failed(r)}});
    }
  }
  load.join();
  return kills;
}

/// Every node up again and every actor listed within a minute: the actors still missing.
json missing_actors(cluster& c) {
  for (const auto& n : c.names())
    if (!c.running(n))
      c.start(n);
  std::set<std::string> listed;
  test::wait_until(
      [&] {
        auto all = rpc_call(c.rpc("a"), "actors", json::array(), 10s);
        listed.clear();
        if (all.is_array())
          for (const auto& e : all)
            listed.insert(e.value("name", ""));
        for (const auto& a : cluster::actors())
          if (!listed.count(a))
            return false;
        return true;
      },
      60s, 500ms);
  json missing = json::array();
  for (const auto& a : cluster::actors())
    if (!listed.count(a))
      missing.push_back(a);
  return missing;
}

/// Records the analyst's log holds (replayed on restart), waited for until it holds at least
/// every acknowledged one or 30 s pass; -1 when the analyst never answered.
int labelled_in_log(cluster& c, std::size_t acknowledged) {
  int labelled = -1;
  test::wait_until(
      [&] {
        auto s = send(c, json::array({"fb", "status", json::object()}));
        if (failed(s) || !s.contains("analysis"))
          return false;
        labelled = 0;
        for (const auto& v : s["analysis"]["versions"])
          labelled += v.value("labelled", 0);
        return labelled >= static_cast<int>(acknowledged);
      },
      30s, 500ms);
  return labelled;
}

/// The versions whose publish was answered and that the registry no longer lists.
json lost_versions(cluster& c, const std::set<int>& acknowledged) {
  std::set<int> listed;
  auto versions = send(c, json::array({"registry", "versions", {{"model", "m"}}}));
  if (versions.is_array())
    for (const auto& v : versions)
      listed.insert(v.value("version", 0));
  json lost = json::array();
  for (int v : acknowledged)
    if (!listed.count(v))
      lost.push_back(v);
  return lost;
}

} // namespace

json run(const chaos_options& opts) {
  test::temp_dir tmp{"chaos"};
  const std::filesystem::path dir =
      opts.keep_dir.empty() ? tmp.path() : std::filesystem::path(opts.keep_dir);
  std::filesystem::create_directories(dir);
  cluster c(dir);
  json report{{"seconds", opts.seconds}, {"interval_ms", opts.interval_ms}, {"seed", opts.seed}};
  load_stats stats;
  if (auto failure = set_up(c, stats)) {
    report["held"] = false;
    report["setup"] = *failure;
    return report;
  }
  report["kills"] = kill_under_load(c, stats, opts);
  // Afterwards: every node up, every actor listed again, nothing acknowledged lost, and the
  // cluster still serves, on the device the server's config names.
  const auto missing = missing_actors(c);
  const int labelled = labelled_in_log(c, stats.acked_feedback.size());
  const auto lost = lost_versions(c, stats.acked_versions);
  auto last = rpc_send(c.rpc("c"), json::array({"m-server", "predict", {{"text", "river"}}}), 30s);
  auto device = rpc_send(c.rpc("c"), json::array({"cpu-c", "info", json::object()}), 10s);
  const bool on_device = !failed(device) && device.value("jobs_done", 0) > 0;
  const bool feedback_held = labelled >= static_cast<int>(stats.acked_feedback.size());
  report["load"] = {{"predictions", stats.predicted.load()},
                    {"predictions_failed", stats.predict_failed.load()},
                    {"feedback_acknowledged", stats.acked_feedback.size()},
                    {"feedback_failed", stats.feedback_failed.load()},
                    {"versions_acknowledged", stats.acked_versions.size()},
                    {"train_or_publish_failed", stats.train_failed.load()}};
  report["checks"] = {
      {"actors_back", {{"held", missing.empty()}, {"missing", missing}}},
      {"feedback_kept",
       {{"held", feedback_held},
        {"acknowledged", stats.acked_feedback.size()},
        {"labelled_in_log", labelled}}},
      {"versions_kept",
       {{"held", lost.empty()}, {"acknowledged", stats.acked_versions.size()}, {"lost", lost}}},
      {"serves_afterwards", {{"held", !failed(last)}, {"answer", last}}},
      {"served_on_the_named_device", {{"held", on_device}, {"device", device}}}};
  report["held"] = missing.empty() && feedback_held && lost.empty() && !failed(last) && on_device;
  return report;
}

} // namespace llmos::chaos
