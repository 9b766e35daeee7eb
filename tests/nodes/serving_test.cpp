// Serving end to end in a real node process: a dataset, a classifier and a small GPT train; the
// test publishes them to the registry through the gateway (as the REPL would), servers follow
// the `production` alias, and every HTTP route is exercised with a real HTTP client: predictions,
// each error status, admin auth, batching under load, an alias move under load with zero failed
// requests, OpenAI-style completions with SSE streaming, metrics, feedback, alerts raised and
// cleared, and the dashboard rendered by headless Chromium.
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"

namespace {

using llmos::test::child_process;
using llmos::test::program;
using llmos::test::read_file;
using llmos::test::rpc_send;
using llmos::test::temp_dir;
using llmos::test::wait_until;
using llmos::test::write_file;
using nlohmann::json;
using namespace std::chrono_literals;

const char* alert_rules = R"(rules:
  - name: m-no-replica
    metric: llmos_serving_replicas
    labels: {model: m}
    op: "<"
    threshold: 1
    for: 0s
    severity: critical
    summary: "model m has no replica"
)";

struct serving_node {
  temp_dir dir{"serving"};
  uint16_t rpc = 0;
  uint16_t http = 0;
  child_process node;

  serving_node() {
    llmos::test::write_words_dataset(dir.path(), 160);
    write_file(dir / "bag.yaml", "model: m\narchitecture: bag\n"
                                 "hyper: {embed_dim: 16, hidden_dim: 16, dropout: 0.0}\n"
                                 "train: {lr: 0.02, batch_size: 16, max_steps: 40, "
                                 "warmup_steps: 2, eval_every: 0}\n");
    write_file(dir / "lm.yaml", "model: lm\narchitecture: gpt\n"
                                "hyper: {embed_dim: 32, layers: 1, heads: 2, ff_dim: 64, "
                                "max_length: 64, dropout: 0.0}\n"
                                "train: {lr: 0.01, batch_size: 8, max_steps: 15, "
                                "warmup_steps: 2, eval_every: 0}\n");
    write_file(dir / "alerts.yaml", alert_rules);
    const auto ports = llmos::test::free_ports(3);
    rpc = ports[1];
    http = ports[2];
    std::ostringstream topo;
    topo << "cluster: serving\n"
         << llmos::test::fast_heartbeat << "nodes:\n"
         << "  - name: a\n    host: 127.0.0.1\n    port: " << ports[0] << "\n    rpc_port: " << rpc
         << "\n    actors:\n"
         << "      - {name: cpu-a, kind: device, config: {type: cpu, threads: 1}}\n"
         << "      - {name: words, kind: dataset, config: {pipeline: pipeline.yaml}}\n"
         << "      - {name: m-trainer, kind: model, config: {spec: bag.yaml}}\n"
         << "      - {name: lm-trainer, kind: model, config: {spec: lm.yaml}}\n"
         << "      - {name: registry, kind: registry, config: {root: models}}\n"
         << "      - {name: m-server, kind: server, config: {model: m, replicas: 2, "
            "max_batch: 16, max_delay_us: 3000, queue_limit: 64}}\n"
         << "      - {name: lm-server, kind: server, config: {model: lm}}\n"
         << "      - {name: web, kind: http, config: {port: " << http
         << ", token: secret, body_limit: 4096, threads: 8, alerts: alerts.yaml, "
            "feedback: feedback.jsonl}}\n";
    write_file(dir / "topology.yaml", topo.str());
    node = child_process::start(
        {program("llmos-node"), "--topology", (dir / "topology.yaml").string(), "--node", "a"},
        dir / "a.log");
  }

  std::string log() const { return read_file(dir / "a.log"); }

  json send(const json& params) const { return rpc_send(rpc, params); }
};

json body_of(const httplib::Result& r) {
  return r ? json::parse(r->body, nullptr, false) : json{};
}

/// Trains `model` from the words data set and publishes it; returns the version.
uint32_t train_and_publish(const serving_node& n, const std::string& trainer) {
  auto trained = n.send(json::array({trainer, "train", {{"dataset", "words"}}}));
  EXPECT_FALSE(trained.contains("error")) << trained.dump() << n.log();
  // The scores arrive as an object, not as JSON inside a string.
  auto scored = n.send(json::array({trainer, "evaluate", {{"dataset", "words"}}}));
  EXPECT_TRUE(scored.is_object() && scored.contains("count")) << scored.dump();
  auto published = n.send(json::array({trainer, "publish", {{"dataset", "words"}}}));
  EXPECT_FALSE(published.contains("error")) << published.dump() << n.log();
  return published.value("version", 0u);
}

TEST(serving, http_end_to_end) {
  serving_node n;
  ASSERT_TRUE(wait_until([&] { return llmos::test::rpc_ping(n.rpc); }, 20s, 100ms)) << n.log();
  httplib::Client web{"127.0.0.1", n.http};
  web.set_read_timeout(60, 0);
  ASSERT_TRUE(wait_until([&] { return static_cast<bool>(web.Get("/healthz")); }, 10s, 100ms));

  // Nothing published yet: not ready, predictions 503.
  auto ready = web.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  auto early = web.Post("/v1/models/m:predict", R"({"instances":["river"]})", "application/json");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503) << early->body;

  auto ingested = n.send(json::array({"words", "ingest", json::object()}));
  ASSERT_FALSE(ingested.contains("error")) << ingested.dump();
  ASSERT_EQ(train_and_publish(n, "m-trainer"), 1u);
  ASSERT_EQ(train_and_publish(n, "lm-trainer"), 1u);
  auto v1 = n.send(json::array({"registry", "versions", {{"model", "m"}}}));
  ASSERT_TRUE(v1.is_array() && v1.size() == 1) << v1.dump();
  EXPECT_EQ(v1[0]["lineage"]["dataset"], "words");
  EXPECT_EQ(v1[0]["lineage"]["dataset_version"].get<std::string>().size(), 32u);
  EXPECT_TRUE(v1[0]["lineage"]["parent"].is_null());
  // Admin routes need the token: none 401, a wrong one 403.
  const std::string alias_body = R"({"version": 1})";
  auto no_token = web.Put("/v1/admin/models/m/aliases/production", alias_body, "application/json");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  httplib::Headers wrong{{"Authorization", "Bearer nope"}};
  auto bad_token =
      web.Put("/v1/admin/models/m/aliases/production", wrong, alias_body, "application/json");
  ASSERT_TRUE(bad_token);
  EXPECT_EQ(bad_token->status, 403);
  httplib::Headers admin{{"Authorization", "Bearer secret"}};
  for (const char* model : {"m", "lm"}) {
    auto moved = web.Put(std::string{"/v1/admin/models/"} + model + "/aliases/production", admin,
                         alias_body, "application/json");
    ASSERT_TRUE(moved);
    ASSERT_EQ(moved->status, 200) << moved->body;
  }
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = web.Get("/readyz");
        return r && r->status == 200;
      },
      30s, 200ms))
      << n.log();

  // Predictions, by alias and by version.
  auto p = web.Post("/v1/models/m:predict",
                    R"({"instances":["river garden 2", {"text":"engine"}]})", "application/json");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, 200) << p->body;
  auto pj = body_of(p);
  EXPECT_EQ(pj["version"], 1);
  ASSERT_EQ(pj["predictions"].size(), 2u);
  EXPECT_EQ(pj["predictions"][0]["label"], "a");
  EXPECT_EQ(pj["predictions"][1]["label"], "b");
  auto pinned =
      web.Post("/v1/models/m/versions/1:predict", R"({"instances":["quiet"]})", "application/json");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->status, 200) << pinned->body;

  // Errors: JSON with the reason and the field.
  struct bad_case {
    std::string path, body;
    int status;
    std::string field;
  };
  const std::vector<bad_case> cases{
      {"/v1/models/m:predict", "{not json", 400, "body"},
      {"/v1/models/m:predict", "[1,2]", 400, "body"},
      {"/v1/models/m:predict", R"({"rows":["x"]})", 400, "instances"},
      {"/v1/models/m:predict", R"({"instances":["x", 5]})", 400, "instances[1]"},
      {"/v1/models/m:predict", R"({"instances":["x"], "priority": -1})", 400, "priority"},
      {"/v1/models/nope:predict", R"({"instances":["x"]})", 404, ""},
      {"/v1/models/m/versions/7:predict", R"({"instances":["x"]})", 404, ""},
      {"/v1/models/m:predict", "{\"instances\":[\"" + std::string(5000, 'x') + "\"]}", 413, "body"},
      {"/v1/models/m:predict", json{{"instances", std::vector<std::string>(65, "x")}}.dump(), 429,
       ""},
      {"/v1/models/lm:predict", R"({"instances":["x"]})", 400, ""},
      {"/v1/nothing", "{}", 404, "path"},
  };
  for (const auto& c : cases) {
    auto r = web.Post(c.path, c.body, "application/json");
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.path << " " << c.body.substr(0, 60) << " -> " << r->body;
    auto e = body_of(r);
    ASSERT_TRUE(e.contains("error")) << r->body;
    EXPECT_FALSE(e["error"].value("reason", "").empty()) << r->body;
    if (!c.field.empty()) {
      EXPECT_EQ(e["error"].value("field", ""), c.field) << r->body;
    }
  }

  // Batching under load: concurrent clients share forward passes.
  std::atomic<int> failures{0};
  auto hammer = [&](std::atomic<bool>& stop, std::vector<int>& versions) {
    httplib::Client c{"127.0.0.1", n.http};
    c.set_read_timeout(60, 0);
    while (!stop) {
      auto r = c.Post("/v1/models/m:predict", R"({"instances":["silver market 9"]})",
                      "application/json");
      if (!r || r->status != 200) {
        ++failures;
        continue;
      }
      versions.push_back(body_of(r)["version"].get<int>());
    }
  };
  {
    std::atomic<bool> stop{false};
    std::vector<std::vector<int>> seen(8);
    std::vector<std::thread> clients;
    for (auto& s : seen)
      clients.emplace_back([&, ptr = &s] { hammer(stop, *ptr); });
    std::this_thread::sleep_for(1500ms);
    stop = true;
    for (auto& t : clients)
      t.join();
    EXPECT_EQ(failures.load(), 0);
    auto st = n.send(json::array({"m-server", "status", json::object()}));
    EXPECT_GT(st.value("served", 0), 20) << st.dump();
    EXPECT_GT(st.value("mean_batch", 0.0), 1.2) << "no batches formed: " << st.dump();
  }

  // A second version, and `production` moved to it under load: no request fails.
  ASSERT_EQ(train_and_publish(n, "m-trainer"), 2u);
  {
    std::atomic<bool> stop{false};
    std::vector<std::vector<int>> seen(6);
    std::vector<std::thread> clients;
    for (auto& s : seen)
      clients.emplace_back([&, ptr = &s] { hammer(stop, *ptr); });
    std::this_thread::sleep_for(500ms);
    auto moved = web.Put("/v1/admin/models/m/aliases/production", admin, R"({"version": 2})",
                         "application/json");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->status, 200) << moved->body;
    ASSERT_TRUE(wait_until(
        [&] {
          return n.send(json::array({"m-server", "status", json::object()}))["version"] == 2;
        },
        30s, 100ms));
    std::this_thread::sleep_for(500ms);
    stop = true;
    for (auto& t : clients)
      t.join();
    EXPECT_EQ(failures.load(), 0) << "requests failed while production moved";
    int before = 0, after = 0;
    for (auto& s : seen) {
      ASSERT_FALSE(s.empty());
      before += s.front() == 1;
      after += s.back() == 2;
    }
    EXPECT_GT(before, 0);
    EXPECT_EQ(after, 6) << "every client ends on version 2";
  }
  // Packaging: the version as TorchScript (a zip archive) and ONNX, through REPL and HTTP.
  auto ts = n.send(json::array(
      {"registry", "export", {{"model", "m"}, {"version", "2"}, {"format", "torchscript"}}}));
  ASSERT_TRUE(ts.contains("path") && ts["path"].is_string()) << ts.dump();
  EXPECT_TRUE(std::filesystem::exists(ts["path"].get<std::string>()));
  auto onnx = web.Get("/v1/models/m/versions/2/export/onnx", admin);
  ASSERT_TRUE(onnx);
  EXPECT_EQ(onnx->status, 200);
  EXPECT_GT(onnx->body.size(), 1000u);
  auto no_format = n.send(json::array(
      {"registry", "export", {{"model", "m"}, {"version", "2"}, {"format", "tflite"}}}));
  EXPECT_TRUE(no_format.contains("error")) << no_format.dump();
  auto models = body_of(web.Get("/v1/models"));
  ASSERT_TRUE(models["models"].is_array()) << models.dump();
  bool m_listed = false;
  for (auto& m : models["models"])
    if (m["name"] == "m") {
      m_listed = true;
      EXPECT_EQ(m["versions"].size(), 2u);
      EXPECT_EQ(m["versions"][1]["aliases"], json::array({"production"}));
      EXPECT_EQ(m["versions"][1]["lineage"]["parent"], 1);
    }
  EXPECT_TRUE(m_listed) << models.dump();

  // Completions: the same greedy text whole and streamed as server-sent events.
  const json completion{
      {"model", "lm"}, {"prompt", "river "}, {"max_tokens", 12}, {"temperature", 0}};
  auto whole = web.Post("/v1/completions", completion.dump(), "application/json");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  auto wj = body_of(whole);
  const auto text = wj["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(wj["usage"]["completion_tokens"], 12);
  httplib::Request sse;
  sse.method = "POST";
  sse.path = "/v1/completions";
  auto streamed = completion;
  streamed["stream"] = true;
  sse.body = streamed.dump();
  sse.set_header("Content-Type", "application/json");
  std::string events;
  int receives = 0;
  sse.content_receiver = [&](const char* data, std::size_t len, uint64_t, uint64_t) {
    events.append(data, len);
    ++receives;
    return true;
  };
  auto sr = web.send(sse);
  ASSERT_TRUE(sr);
  EXPECT_EQ(sr->status, 200);
  EXPECT_EQ(sr->get_header_value("Content-Type"), "text/event-stream");
  std::string joined;
  int pieces = 0;
  std::istringstream lines{events};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) != 0 || line == "data: [DONE]")
      continue;
    auto j = json::parse(line.substr(6));
    if (j["choices"][0]["finish_reason"].is_null()) {
      joined += j["choices"][0]["text"].get<std::string>();
      ++pieces;
    }
  }
  EXPECT_GE(pieces, 2) << events;
  EXPECT_GE(receives, 2) << "the events came in one piece: not streamed";
  EXPECT_EQ(joined, text);
  EXPECT_NE(events.find("data: [DONE]"), std::string::npos);
  auto chat = web.Post("/v1/chat/completions",
                       json{{"model", "lm"},
                            {"messages", {{{"role", "user"}, {"content", "garden"}}}},
                            {"max_tokens", 4}}
                           .dump(),
                       "application/json");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200) << chat->body;
  EXPECT_EQ(body_of(chat)["choices"][0]["message"]["role"], "assistant");
  auto no_prompt = web.Post("/v1/completions", R"({"model":"lm"})", "application/json");
  ASSERT_TRUE(no_prompt);
  EXPECT_EQ(no_prompt->status, 400);

  // Feedback is appended durably.
  auto fb =
      web.Post("/v1/feedback", R"({"model":"m","label":"a","input":"river"})", "application/json");
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->status, 202) << fb->body;
  EXPECT_NE(read_file(n.dir / "feedback.jsonl").find("\"input\":\"river\""), std::string::npos);
  auto bad_fb = web.Post("/v1/feedback", R"({"model":"m"})", "application/json");
  ASSERT_TRUE(bad_fb);
  EXPECT_EQ(bad_fb->status, 400);

  // Metrics in the Prometheus text format.
  auto metrics = web.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* series :
       {"llmos_serving_batch_size_bucket{", "llmos_serving_latency_seconds_count{",
        "llmos_serving_requests_total{", "outcome=\"rejected\"", "llmos_device_utilisation{",
        "llmos_model_loss{model=\"m\"}"})
    EXPECT_NE(metrics->body.find(series), std::string::npos) << series;

  // Alerts: unloading m leaves it without replicas (firing); deploying clears it.
  auto alert_state = [&] {
    auto a = body_of(web.Get("/v1/alerts"));
    for (auto& r : a["rules"])
      if (r["rule"] == "m-no-replica")
        return r["state"].get<std::string>();
    return std::string{"missing"};
  };
  ASSERT_TRUE(wait_until([&] { return alert_state() == "inactive"; }, 10s, 200ms));
  auto unloaded = web.Post("/v1/admin/models/m:unload", admin, "{}", "application/json");
  ASSERT_TRUE(unloaded);
  EXPECT_EQ(unloaded->status, 200) << unloaded->body;
  auto gone = web.Post("/v1/models/m:predict", R"({"instances":["x"]})", "application/json");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 503) << gone->body;
  EXPECT_TRUE(wait_until([&] { return alert_state() == "firing"; }, 10s, 200ms));
  auto deployed = web.Post("/v1/admin/models/m:deploy", admin, R"({"version":"production"})",
                           "application/json");
  ASSERT_TRUE(deployed);
  EXPECT_EQ(deployed->status, 200) << deployed->body;
  EXPECT_TRUE(wait_until([&] { return alert_state() == "inactive"; }, 10s, 200ms));
  auto events_json = body_of(web.Get("/v1/alerts"))["events"];
  bool resolved = false;
  for (auto& e : events_json)
    resolved = resolved || (e["rule"] == "m-no-replica" && e["state"] == "resolved");
  EXPECT_TRUE(resolved) << events_json.dump();
  auto repl_alerts = n.send(json::array({"web", "alerts", json::object()}));
  EXPECT_TRUE(repl_alerts.contains("rules")) << repl_alerts.dump();

  // The dashboard, rendered by a real browser.
  if (!std::filesystem::exists("/usr/bin/chromium"))
    GTEST_SKIP() << "chromium not installed (tools/setup installs it)";
  const auto profile = n.dir / "chromium";
  const std::string cmd =
      "/usr/bin/chromium --headless --no-sandbox --disable-gpu "
      "--disable-dev-shm-usage --no-first-run --disable-background-networking "
      "--disable-component-update --disable-sync --user-data-dir=" +
      profile.string() +
      " --virtual-time-budget=5000 --dump-dom http://127.0.0.1:" + std::to_string(n.http) +
      "/ 2>/dev/null";
  std::string dom;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
      dom.append(buf, got);
    ::pclose(pipe);
  }
  ASSERT_NE(dom.find("<h1>llmos</h1>"), std::string::npos) << dom.substr(0, 400);
  EXPECT_NE(dom.find("<div id=\"updated\">updated "), std::string::npos)
      << "the page never drew the gateway's data";
  EXPECT_NE(dom.find("production→v2"), std::string::npos) << "models table";
  EXPECT_NE(dom.find("m-no-replica"), std::string::npos) << "alerts table";
  EXPECT_NE(dom.find("cpu-a"), std::string::npos) << "devices table";
  EXPECT_NE(dom.find("<polyline"), std::string::npos) << "a loss curve";
  EXPECT_NE(dom.find("m-server"), std::string::npos) << "actors table";
}

/// Ingests the words, publishes `versions` versions of m and has m-server serve v1.
testing::AssertionResult serve_v1_of(const serving_node& n, uint32_t versions) {
  if (!wait_until([&] { return llmos::test::rpc_ping(n.rpc); }, 20s, 100ms))
    return testing::AssertionFailure() << "the node does not answer: " << n.log();
  auto ingested = n.send(json::array({"words", "ingest", json::object()}));
  if (ingested.contains("error"))
    return testing::AssertionFailure() << ingested.dump();
  for (uint32_t v = 1; v <= versions; ++v)
    if (train_and_publish(n, "m-trainer") != v)
      return testing::AssertionFailure() << "publishing v" << v;
  auto moved = n.send(json::array(
      {"registry", "alias", {{"model", "m"}, {"alias", "production"}, {"version", "1"}}}));
  if (moved.contains("error"))
    return testing::AssertionFailure() << moved.dump();
  if (!wait_until(
          [&] {
            return n.send(json::array({"m-server", "status", json::object()}))
                       .value("version", 0) == 1;
          },
          30s, 200ms))
    return testing::AssertionFailure() << "m-server does not serve v1: " << n.log();
  return testing::AssertionSuccess();
}

TEST(serving, a_canary_takes_its_share_and_rolls_back_without_a_failed_request) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 2));

  // Refused: the deployed version as its own canary, a share of 1 or more.
  auto same = n.send(json::array({"m-server", "canary", {{"version", "1"}, {"share", "0.5"}}}));
  EXPECT_EQ(same.value("/error/code"_json_pointer, std::string{}), "bad_params") << same.dump();
  auto all = n.send(json::array({"m-server", "canary", {{"version", "2"}, {"share", "1"}}}));
  EXPECT_EQ(all.value("/error/code"_json_pointer, std::string{}), "bad_params") << all.dump();

  auto started = n.send(json::array({"m-server", "canary", {{"version", "2"}, {"share", "0.25"}}}));
  ASSERT_EQ(started.value("canary_version", 0), 2) << started.dump() << n.log();
  EXPECT_EQ(started.value("version", 0), 1);
  // Every fourth request that names no version goes to the canary; ids are unique.
  std::map<uint32_t, int> by_version;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "river garden"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    ++by_version[r.value("version", 0u)];
    ids.insert(r.value("request_id", std::string{}));
  }
  EXPECT_EQ(by_version[1], 150);
  EXPECT_EQ(by_version[2], 50);
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(ids.count(""), 0u);

  // Rolled back: the canary's replica drains; everything is v1 again, nothing fails.
  auto ended = n.send(json::array({"m-server", "canary", {{"share", "0"}}}));
  EXPECT_EQ(ended.value("canary_version", -1), 0) << ended.dump();
  for (int i = 0; i < 20; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "engine"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    EXPECT_EQ(r.value("version", 0), 1);
  }
  auto status = n.send(json::array({"m-server", "status", json::object()}));
  EXPECT_EQ(status.value("failed", -1), 0) << status.dump();
  EXPECT_EQ(status.value("replicas", 0), 2) << status.dump();

  // Promotions are alias moves, one after another: the server follows every one of them (it
  // once followed the first move only and stayed pinned after it).
  for (const char* v : {"2", "1", "2"}) {
    auto to = n.send(json::array(
        {"registry", "alias", {{"model", "m"}, {"alias", "production"}, {"version", v}}}));
    ASSERT_FALSE(to.contains("error")) << to.dump();
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = n.send(json::array({"m-server", "status", json::object()}));
          return s.value("version", 0) == std::stoi(v) && s.value("follows", "") == "production";
        },
        30s, 200ms))
        << "production -> v" << v << ": "
        << n.send(json::array({"m-server", "status", json::object()})).dump();
  }
}

/// The replicas of `server` that `actors` lists (model actors named SERVER.vV.rN).
std::set<std::string> replicas_of(const serving_node& n, const std::string& server) {
  std::set<std::string> out;
  auto listed = llmos::test::rpc_call(n.rpc, "actors", json::array());
  for (const auto& e : listed.is_array() ? listed : json::array())
    if (e.value("kind", "") == "model" && e.value("name", "").rfind(server + ".v", 0) == 0)
      out.insert(e.value("name", ""));
  return out;
}

TEST(serving, replicas_are_model_actors_the_node_places_and_a_lost_one_is_replaced) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 1));
  // Spawned through the node manager like any model: listed, addressable by name.
  ASSERT_TRUE(wait_until([&] { return replicas_of(n, "m-server").size() == 2; }, 10s, 100ms));
  const auto first = replicas_of(n, "m-server");
  EXPECT_EQ(first, (std::set<std::string>{"m-server.v1.r1", "m-server.v1.r2"}));
  auto info = n.send(json::array({"m-server.v1.r1", "info", json::object()}));
  EXPECT_FALSE(info.contains("error")) << info.dump();

  // Stopping one: the server places another, and serves on throughout.
  auto stopped = llmos::test::rpc_call(n.rpc, "stop", json::array({"m-server.v1.r1"}));
  EXPECT_EQ(stopped, true) << stopped.dump();
  ASSERT_TRUE(wait_until(
      [&] {
        return replicas_of(n, "m-server") ==
                   std::set<std::string>{"m-server.v1.r2", "m-server.v1.r3"} &&
               n.send(json::array({"m-server", "status", json::object()})).value("replicas", 0) ==
                   2;
      },
      30s, 200ms))
      << n.send(json::array({"m-server", "status", json::object()})).dump() << n.log();
  for (int i = 0; i < 10; ++i) {
    auto r = n.send(json::array({"m-server", "predict", {{"text", "river garden"}}}));
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  // Unloaded: its replicas leave the listing.
  auto unloaded = n.send(json::array({"m-server", "unload", json::object()}));
  EXPECT_FALSE(unloaded.contains("error")) << unloaded.dump();
  EXPECT_TRUE(wait_until([&] { return replicas_of(n, "m-server").empty(); }, 10s, 100ms));
}

TEST(serving, a_data_set_is_labelled_by_people_and_the_deployed_classifier_from_the_repl) {
  serving_node n;
  ASSERT_TRUE(serve_v1_of(n, 1));
  // New texts of the same words, without labels: the word decides the truth.
  std::string fresh;
  for (int i = 0; i < 24; ++i)
    fresh += json{{"text", std::string{i % 2 == 0 ? "quiet garden river" : "silver market engine"} +
                               " " + std::to_string(1000 + i)}}
                 .dump() +
             "\n";
  write_file(n.dir / "fresh.jsonl", fresh);
  write_file(n.dir / "fresh.yaml", "dataset: fresh\nroot: store\n"
                                   "sources:\n  - {name: r, kind: jsonl, path: fresh.jsonl}\n"
                                   "split: {train: 1.0, validation: 0.0, test: 0.0}\n"
                                   "tokenizer: {kind: byte, max_length: 32}\n");
  auto spawned = llmos::test::rpc_call(
      n.rpc, "spawn",
      json::array(
          {"a", "dataset", {{"name", "fresh"}, {"pipeline", (n.dir / "fresh.yaml").string()}}}));
  ASSERT_FALSE(spawned.contains("error")) << spawned.dump() << n.log();
  // Over HTTP as a labelling page would: the queue, a label, and refusals.
  httplib::Client web{"127.0.0.1", n.http};
  web.set_read_timeout(60, 0);
  auto early = web.Get("/v1/datasets/fresh/review?model=m-server&n=3");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 400) << "no version yet: " << early->body;
  EXPECT_EQ(web.Get("/v1/datasets/nothing/review?model=m-server")->status, 404);
  EXPECT_EQ(web.Get("/v1/datasets/fresh/review?model=m-server&n=x")->status, 400);
  EXPECT_EQ(web.Post("/v1/datasets/fresh/labels", R"({"labels": [{"id": 1}]})", "application/json")
                ->status,
            400);
  // People first: the records the classifier is least sure of, one of them labelled by hand.
  auto review =
      llmos::test::run_repl(n.rpc, {"send fresh ingest", "send fresh review model=m-server n=5"});
  ASSERT_EQ(review.lines.size(), 2u) << review.err;
  const auto queue = review.line(1);
  ASSERT_TRUE(queue.is_array() && queue.size() == 5) << queue.dump() << n.log();
  for (std::size_t i = 1; i < queue.size(); ++i)
    EXPECT_LE(queue[i - 1]["confidence"], queue[i]["confidence"]) << queue.dump();
  const std::string by_hand = queue[0]["id"];
  auto over_http = web.Get("/v1/datasets/fresh/review?model=m-server&n=3");
  ASSERT_TRUE(over_http);
  ASSERT_EQ(over_http->status, 200) << over_http->body;
  auto items = json::parse(over_http->body)["items"];
  ASSERT_EQ(items.size(), 3u) << over_http->body;
  EXPECT_EQ(items[0]["id"], by_hand);
  const std::string second = items[1]["id"];
  auto posted =
      web.Post("/v1/datasets/fresh/labels",
               json{{"labels", {{{"id", second}, {"label", "a"}}}}}.dump(), "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(json::parse(posted->body)["labels"]["a"], 1) << posted->body;
  auto repl = llmos::test::run_repl(n.rpc, {"send fresh label id=" + by_hand + " label=b",
                                            "send fresh pseudo_label model=m-server threshold=0.5",
                                            "send fresh pseudo_label model=no-such-server",
                                            "send fresh sample n=100"});
  ASSERT_EQ(repl.lines.size(), 4u) << repl.err;
  ASSERT_FALSE(repl.line(0).contains("error")) << repl.line(0).dump();
  auto labelled = repl.line(1);
  ASSERT_FALSE(labelled.contains("error")) << labelled.dump() << n.log();
  EXPECT_NE(labelled["version"], repl.line(0)["version"]);
  auto report = labelled["report"]["pseudo_labels"]; // an object over RPC
  EXPECT_EQ(report["model"], "m-server");
  EXPECT_EQ(report["applied"], 22) << report.dump(); // two labels: the top one is >= 0.5
  EXPECT_FALSE(repl.error_code(2).empty()) << repl.line(2).dump();
  int right = 0;
  for (const auto& r : repl.line(3)) {
    if (r["id"] == by_hand || r["id"] == second) {
      EXPECT_EQ(r["label"], r["id"] == by_hand ? "b" : "a") << "people outrank the model";
      continue;
    }
    const bool a = r["text"].get<std::string>().starts_with("quiet");
    right += r["label"] == (a ? "a" : "b") ? 1 : 0;
  }
  EXPECT_GE(right, 18) << repl.line(3).dump(); // the classifier learned the words
}

} // namespace
