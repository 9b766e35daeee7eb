// The HTTP gateway of a serving node, scenario by scenario in the order a user meets them: nothing
// ready before a version is published, admin auth, predictions by alias and by version, errors
// that name the field, batching under load, an alias moved under load with zero failed
// requests, export and the model listing, OpenAI-style completions with SSE streaming, feedback,
// metrics, alerts raised and cleared, and the dashboard rendered by headless Chromium. The
// scenarios share one node process (training and publishing take most of the time) and run in
// the order written: each builds on what the earlier ones published, so run the suite whole.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "serving_node.hpp"
#include "streamed_completion.hpp"

namespace {

using namespace llmos::test; // the node tests' harness
using nlohmann::json;
using namespace std::chrono_literals;

const httplib::Headers admin{{"Authorization", "Bearer secret"}};

class serving_http : public ::testing::Test {
protected:
  static void SetUpTestSuite() { node_ = std::make_unique<serving_node>(); }
  static void TearDownTestSuite() { node_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(wait_until([&] { return llmos::test::rpc_ping(n.rpc); }, 20s, 100ms)) << n.log();
    web.set_read_timeout(60, 0);
    ASSERT_TRUE(wait_until([&] { return static_cast<bool>(web.Get("/healthz")); }, 10s, 100ms));
  }

  /// One client predicting through m's alias until `stop`: records the versions that answered;
  /// a request not answered 200 counts in `failures`.
  void hammer(std::atomic<bool>& stop, std::vector<int>& versions) {
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
  }

  /// One hammer() client per entry of `seen`, each recording into its own entry.
  std::vector<std::thread> hammers(std::atomic<bool>& stop, std::vector<std::vector<int>>& seen) {
    std::vector<std::thread> clients;
    for (auto& s : seen)
      clients.emplace_back([this, &stop, ptr = &s] { hammer(stop, *ptr); });
    return clients;
  }

  static inline std::unique_ptr<serving_node> node_;
  serving_node& n = *node_;
  httplib::Client web{"127.0.0.1", n.http};
  std::atomic<int> failures{0};
};

TEST_F(serving_http, nothing_is_ready_before_a_version_is_published) {
  auto ready = web.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  auto early = web.Post("/v1/models/m:predict", R"({"instances":["river"]})", "application/json");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503) << early->body;
}

TEST_F(serving_http, published_versions_carry_their_lineage_and_aliases_need_the_admin_token) {
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
  for (const char* model : {"m", "lm"}) {
    auto moved = web.Put(std::string{"/v1/admin/models/"} + model + "/aliases/production", admin,
                         alias_body, "application/json");
    ASSERT_TRUE(moved);
    ASSERT_EQ(moved->status, 200) << moved->body;
  }
  ASSERT_TRUE(http_ready(n.http, 30s, 200ms)) << n.log();
}

TEST_F(serving_http, predictions_by_alias_and_by_version) {
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
}

TEST_F(serving_http, bad_requests_get_json_errors_naming_the_field) {
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
}

TEST_F(serving_http, concurrent_clients_share_forward_passes) {
  {
    std::atomic<bool> stop{false};
    std::vector<std::vector<int>> seen(8);
    auto clients = hammers(stop, seen);
    std::this_thread::sleep_for(1500ms);
    stop = true;
    for (auto& t : clients)
      t.join();
    EXPECT_EQ(failures.load(), 0);
    auto st = n.send(json::array({"m-server", "status", json::object()}));
    EXPECT_GT(st.value("served", 0), 20) << st.dump();
    EXPECT_GT(st.value("mean_batch", 0.0), 1.2) << "no batches formed: " << st.dump();
  }
}

TEST_F(serving_http, production_moves_to_a_new_version_under_load_without_a_failed_request) {
  ASSERT_EQ(train_and_publish(n, "m-trainer"), 2u);
  {
    std::atomic<bool> stop{false};
    std::vector<std::vector<int>> seen(6);
    auto clients = hammers(stop, seen);
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
}

TEST_F(serving_http, a_version_is_exported_and_listed_with_its_aliases_and_parent) {
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
}

TEST_F(serving_http, completions_whole_and_streamed_as_server_sent_events_agree) {
  const json completion{
      {"model", "lm"}, {"prompt", "river "}, {"max_tokens", 12}, {"temperature", 0}};
  auto whole = web.Post("/v1/completions", completion.dump(), "application/json");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  auto wj = body_of(whole);
  const auto text = wj["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(wj["usage"]["completion_tokens"], 12);
  std::string events;
  int receives = 0;
  auto sse =
      streamed_completion(completion, [&](const char* data, std::size_t len, uint64_t, uint64_t) {
        events.append(data, len);
        ++receives;
        return true;
      });
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
}

TEST_F(serving_http, feedback_is_appended_durably) {
  auto fb =
      web.Post("/v1/feedback", R"({"model":"m","label":"a","input":"river"})", "application/json");
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->status, 202) << fb->body;
  EXPECT_NE(read_file(n.dir / "feedback.jsonl").find("\"input\":\"river\""), std::string::npos);
  auto bad_fb = web.Post("/v1/feedback", R"({"model":"m"})", "application/json");
  ASSERT_TRUE(bad_fb);
  EXPECT_EQ(bad_fb->status, 400);
}

TEST_F(serving_http, metrics_in_the_prometheus_text_format) {
  auto metrics = web.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* series :
       {"llmos_serving_batch_size_bucket{", "llmos_serving_latency_seconds_count{",
        "llmos_serving_requests_total{", "outcome=\"rejected\"", "llmos_device_utilisation{",
        "llmos_model_loss{model=\"m\"}"})
    EXPECT_NE(metrics->body.find(series), std::string::npos) << series;
}

TEST_F(serving_http, an_alert_fires_while_m_has_no_replica_and_clears_when_deployed) {
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
}

TEST_F(serving_http, the_dashboard_renders_in_a_real_browser) {
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

} // namespace
