// SIGTERM under load: a node serving the pretrained model over HTTP (plain and streamed) and
// msgpack-RPC, with a training job running through its scheduler, stops taking requests (503 /
// unavailable), lets those in flight finish, stops its actors in order and exits 0 within its
// grace period; every answered completion is in the feedback analyst's log afterwards. And a
// node whose grace period runs out says so and exits 3.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "llama_node.hpp"
#include "streamed_completion.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// What the clients saw.
struct outcomes {
  std::mutex mutex;
  std::vector<std::string> answered; ///< completion ids of 200 answers
  int refused = 0;                   ///< 503 (HTTP) or `unavailable` (RPC) while draining
  int unreachable = 0;               ///< no connection: the node had stopped listening
  std::vector<std::string> wrong;    ///< anything else, described
};

TEST(drain, a_node_under_load_stops_cleanly_within_its_grace_period) {
  llama_node n("      - {name: fb, kind: feedback, config: {root: fb-state, fsync: batched}}\n"
               "      - {name: tales-server, kind: server, config: {model: tales, feedback: fb}}\n"
               "      - {name: cpu-a, kind: device, config: {type: cpu, threads: 1}}\n"
               "      - {name: quotes, kind: dataset, config: {pipeline: quotes.yaml}}\n"
               "      - {name: sched, kind: scheduler, config: {root: sched}}\n",
               {"--grace", "20"});
  // A training job runs through the scheduler while the node serves and stops.
  write_file(n.dir / "quotes.yaml",
             "dataset: quotes\nroot: store\nsources:\n"
             "  - {name: fortunes, kind: fortunes, path: \"${DATA}/fortunes/usr/share/games/"
             "fortunes\"}\n"
             "split: {train: 0.8, validation: 0.1, test: 0.1, seed: 42}\n"
             "tokenizer: {kind: byte, max_length: 64}\n");
  write_file(n.dir / "topic.yaml", "model: drain-topic\narchitecture: bag\n"
                                   "hyper: {embed_dim: 64, hidden_dim: 128, dropout: 0.1}\n"
                                   "train: {optimizer: adamw, lr: 0.005, batch_size: 32, "
                                   "max_steps: 100000, warmup_steps: 10, eval_every: 1000}\n");
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories({"tales"}));
  auto ingested = n.send(json::array({"quotes", "ingest", json::object()}));
  ASSERT_FALSE(ingested.contains("error")) << ingested.dump();
  auto job = n.send(json::array({"sched",
                                 "submit",
                                 {{"name", "long"},
                                  {"spec", (n.dir / "topic.yaml").string()},
                                  {"dataset", "quotes"},
                                  {"threads", "1"}}}));
  ASSERT_TRUE(job.contains("id")) << job.dump() << n.log();
  ASSERT_TRUE(wait_until(
      [&] {
        auto st = n.send(json::array({"sched", "status", {{"id", job["id"]}}}));
        return st.value("state", "") == "running" &&
               st.value("progress", std::string{}).find("train") == 0;
      },
      60s))
      << n.log();
  httplib::Client probe("127.0.0.1", n.http);
  probe.set_read_timeout(30, 0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = probe.Post("/v1/completions",
                            json{{"model", "tales"}, {"prompt", ""}, {"max_tokens", 1}}.dump(),
                            "application/json");
        return r && r->status == 200;
      },
      30s))
      << n.log();

  outcomes seen;
  std::atomic<bool> stop{false};
  auto http_client = [&](int id, bool streamed) {
    httplib::Client c("127.0.0.1", n.http);
    c.set_read_timeout(30, 0);
    for (int i = 0; !stop; ++i) {
      const json body{{"model", "tales"},   {"prompt", "Once upon a time"}, {"max_tokens", 120},
                      {"temperature", 0.8}, {"seed", id * 1000 + i},        {"stream", streamed}};
      auto r = c.Post("/v1/completions", body.dump(), "application/json");
      std::unique_lock<std::mutex> lock{seen.mutex};
      if (!r) {
        ++seen.unreachable;
        break; // the node is gone
      }
      if (r->status == 503 && r->body.find("stopping") != std::string::npos) {
        ++seen.refused;
        lock.unlock();
        std::this_thread::sleep_for(20ms);
        continue;
      }
      if (r->status != 200) {
        seen.wrong.push_back(std::to_string(r->status) + " " + r->body);
        continue;
      }
      if (!streamed) {
        auto j = json::parse(r->body, nullptr, false);
        if (j.is_discarded() || j["choices"][0]["finish_reason"].is_null())
          seen.wrong.push_back("an incomplete answer: " + r->body);
        else
          seen.answered.push_back(j["id"]);
      } else if (r->body.find("data: [DONE]") == std::string::npos) {
        seen.wrong.push_back("a stream cut short: " + r->body);
      } else {
        auto first = json::parse(r->body.substr(6, r->body.find('\n') - 6), nullptr, false);
        seen.answered.push_back(first.value("id", ""));
      }
    }
  };
  auto rpc_client = [&] {
    for (int i = 0; !stop; ++i) {
      auto r = n.send(
          json::array({"tales-server",
                       "generate",
                       {{"text", "The dog"}, {"max_tokens", "80"}, {"seed", std::to_string(i)}}}));
      std::lock_guard<std::mutex> lock{seen.mutex};
      if (!r.contains("error")) {
        seen.answered.push_back(r["request_id"]);
        continue;
      }
      const auto e = r["error"].dump();
      if (e.find("stopping") != std::string::npos)
        ++seen.refused;
      else if (e.find("io_failed") != std::string::npos) {
        // Refused, reset or closed: the gateway had stopped listening (nothing was answered).
        ++seen.unreachable;
        break;
      } else
        seen.wrong.push_back("rpc: " + e);
    }
  };
  std::vector<std::thread> clients;
  clients.emplace_back(http_client, 1, false);
  clients.emplace_back(http_client, 2, false);
  clients.emplace_back(http_client, 3, true);
  clients.emplace_back(rpc_client);
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> lock{seen.mutex};
        return seen.answered.size() >= 12;
      },
      60s));

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(n.node.signal(SIGTERM));
  const auto status = n.node.wait_for(30s);
  stop = true;
  for (auto& t : clients)
    t.join();
  ASSERT_TRUE(status) << "the node did not stop within 30 s of SIGTERM";
  EXPECT_EQ(*status, 0) << n.log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 20s) << "beyond its grace period";
  const auto log = n.log();
  EXPECT_NE(log.find("draining"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
  EXPECT_EQ(log.find("pure virtual"), std::string::npos) << log;
  EXPECT_EQ(log.find("did not stop"), std::string::npos) << log;
  EXPECT_TRUE(seen.wrong.empty()) << seen.wrong.front();
  // Every answered completion reached the analyst's log before it closed (and fsynced) it.
  const auto records = read_file(n.dir / "fb-state" / "feedback.log");
  std::size_t missing = 0;
  std::string example;
  for (const auto& id : seen.answered)
    if (records.find(id) == std::string::npos) {
      ++missing;
      example = id;
    }
  EXPECT_EQ(missing, 0u) << "of " << seen.answered.size() << " answered, e.g. " << example;
}

/// True once the node answers a one-token completion of stories over HTTP (within 30 s).
bool completes(const llama_node& n) {
  httplib::Client c("127.0.0.1", n.http);
  c.set_read_timeout(30, 0);
  return wait_until(
      [&] {
        auto r = c.Post("/v1/completions",
                        json{{"model", "stories"}, {"prompt", ""}, {"max_tokens", 1}}.dump(),
                        "application/json");
        return r && r->status == 200;
      },
      30s);
}

/// `count` clients, each streaming a long completion of stories (500 tokens, seed i);
/// `streaming` turns true with the first bytes any of them receives.
std::vector<std::thread> stream_long_completions(const llama_node& n, int count,
                                                 std::atomic<bool>& streaming) {
  std::vector<std::thread> clients;
  for (int i = 0; i < count; ++i)
    clients.emplace_back([&n, &streaming, i] {
      auto r = streamed_completion(
          {{"model", "stories"}, {"prompt", ""}, {"max_tokens", 500}, {"seed", i}},
          [&](const char*, size_t, uint64_t, uint64_t) {
            streaming = true;
            return true;
          });
      httplib::Client s("127.0.0.1", n.http);
      s.set_read_timeout(30, 0);
      (void)s.send(r);
    });
  return clients;
}

TEST(drain, a_grace_period_that_runs_out_is_reported_with_status_3) {
  llama_node n("", {"--grace", "0.05"});
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories());
  ASSERT_TRUE(completes(n)) << n.log();
  // Sixteen long streamed generations (about a second of work for stories260K here) are in
  // flight when the signal comes; 0.05 s is not enough for them.
  std::atomic<bool> streaming{false};
  auto slow = stream_long_completions(n, 16, streaming);
  ASSERT_TRUE(wait_until([&] { return streaming.load(); }, 30s));
  ASSERT_TRUE(n.node.signal(SIGTERM));
  const auto status = n.node.wait_for(30s);
  for (auto& t : slow)
    t.join();
  ASSERT_TRUE(status) << "the node did not stop within 30 s of SIGTERM\n" << n.log();
  EXPECT_EQ(*status, 3) << n.log();
  EXPECT_NE(n.log().find("grace period"), std::string::npos) << n.log();
  EXPECT_EQ(n.log().find("pure virtual"), std::string::npos) << n.log();
}

TEST(drain, stopping_the_http_gateway_under_load_is_safe) {
  llama_node n;
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories());
  ASSERT_TRUE(completes(n)) << n.log();
  // Streams in flight when the gateway is stopped: its handlers used to outlive the context
  // they read (heap corruption). They end, the node lives on.
  std::atomic<bool> streaming{false};
  auto streams = stream_long_completions(n, 8, streaming);
  ASSERT_TRUE(wait_until([&] { return streaming.load(); }, 30s));
  auto stopped = llmos::test::rpc_call(n.rpc, "stop", json::array({"web"}));
  EXPECT_FALSE(stopped.contains("error")) << stopped.dump();
  for (auto& t : streams)
    t.join();
  EXPECT_TRUE(llmos::test::rpc_ping(n.rpc)) << n.log();
  EXPECT_TRUE(n.node.running()) << n.log();
  auto after = n.send(json::array({"stories-server", "status", json::object()}));
  EXPECT_FALSE(after.contains("error")) << after.dump();
  ASSERT_TRUE(n.node.signal(SIGTERM));
  const auto status = n.node.wait_for(30s);
  ASSERT_TRUE(status) << n.log();
  EXPECT_EQ(*status, 0) << n.log();
}

} // namespace
