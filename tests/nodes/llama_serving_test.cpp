// The LLM serving engine through a real node: stop sequences, the model list, OpenAI's error
// shape, penalties, logit_bias and logprobs, priorities and the sequence list, cancellation from
// the REPL and by a departing streaming client, preemption under a small KV cache, 429 from a
// full generate queue, OpenAI's own npm client, hostile input, and a clean SIGTERM.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <latch>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../actors/model/formats_test_util.hpp"
#include "dataset/data_dir.hpp"
#include "llama_node.hpp"
#include "streamed_completion.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// A greedy completion of 400 tokens of `prompt` by `model`, posted on `c` (each of the test's
/// client threads has a client of its own).
httplib::Result post_greedy_400(httplib::Client& c, const std::string& model,
                                const std::string& prompt) {
  return c.Post(
      "/v1/completions",
      json{{"model", model}, {"prompt", prompt}, {"max_tokens", 400}, {"temperature", 0}}.dump(),
      "application/json");
}

// The serving engine's OpenAI surface and control: stop sequences (whole and streamed), the
// model list, errors in OpenAI's shape, a prompt longer than the context, priorities and the
// sequence list, cancellation from the REPL and by clients that go away, streamed or not (seen in
// /metrics), preemption under a small KV cache with every text as alone, and 429 + Retry-After
// from a full generate queue.
TEST(llama_node, serving_engine_stops_cancels_preempts_and_speaks_openai) {
  std::string why;
  const auto models = llmos::test::stories260k_dir(&why);
  ASSERT_FALSE(models.empty()) << why;
  const auto expected = read_file(std::filesystem::path(models) / "expected-greedy-200.txt");
  // Two contexts of KV cache for the crowd server, one (and a queue of two) for the tight one.
  llama_node n("      - {name: crowd-server, kind: server, config: {model: crowd, kv_blocks: 64, "
               "kv_swap: true}}\n"
               "      - {name: tight-server, kind: server, config: {model: tight, kv_blocks: 32, "
               "generate_queue: 2}}\n");
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories({"stories", "crowd", "tight"}));
  httplib::Client web("127.0.0.1", n.http);
  web.set_read_timeout(60, 0);
  auto post = [&](const json& body) {
    auto r = web.Post("/v1/completions", body.dump(), "application/json");
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, json::parse(r->body, nullptr, false))
             : std::make_pair(0, json());
  };
  ASSERT_TRUE(wait_until(
      [&] {
        return post({{"model", "stories"}, {"prompt", ""}, {"max_tokens", 1}}).first == 200;
      },
      30s))
      << n.log();

  // stop: the text ends before the first "." (excluded), finish_reason stop.
  const auto first_sentence = expected.substr(0, expected.find('.'));
  auto [status, body] = post({{"model", "stories"},
                              {"prompt", ""},
                              {"max_tokens", 200},
                              {"temperature", 0},
                              {"stop", json::array({".", "zzz"})}});
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["choices"][0]["text"], first_sentence);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["object"], "text_completion");
  // Streamed: the pieces add up to the same text; the stop text is never sent.
  std::string streamed, finish;
  bool usage_seen = false;
  auto sse = web.Post("/v1/completions",
                      json{{"model", "stories"},
                           {"prompt", ""},
                           {"max_tokens", 200},
                           {"temperature", 0},
                           {"stop", "."},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}}
                          .dump(),
                      "application/json");
  ASSERT_TRUE(sse);
  std::istringstream lines(sse->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: {", 0) != 0)
      continue;
    auto c = json::parse(line.substr(6));
    if (c.contains("usage")) {
      usage_seen = true;
      EXPECT_TRUE(c["choices"].empty());
      continue;
    }
    streamed += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null())
      finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(streamed, first_sentence);
  EXPECT_EQ(finish, "stop");
  EXPECT_TRUE(usage_seen);
  // echo and n.
  std::tie(status, body) = post({{"model", "stories"},
                                 {"prompt", "Once upon a"},
                                 {"max_tokens", 5},
                                 {"echo", true},
                                 {"n", 3}});
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["choices"].size(), 3u);
  EXPECT_EQ(body["choices"][2]["index"], 2);
  EXPECT_EQ(body["choices"][0]["text"].get<std::string>().rfind("Once upon a", 0), 0u);

  // logit_bias: +100 on one token makes it every choice; a frequency penalty changes greedy text.
  std::tie(status, body) = post({{"model", "stories"},
                                 {"prompt", "Once upon a"},
                                 {"max_tokens", 6},
                                 {"temperature", 0},
                                 {"logit_bias", {{"300", 100}}}});
  ASSERT_EQ(status, 200) << body.dump();
  const auto biased = body["choices"][0]["text"].get<std::string>();
  ASSERT_FALSE(biased.empty());
  ASSERT_EQ(biased.size() % 6, 0u) << biased;
  std::string repeated;
  for (int i = 0; i < 6; ++i)
    repeated += biased.substr(0, biased.size() / 6);
  EXPECT_EQ(biased, repeated);
  auto greedy_text = [&](double penalty) {
    auto [st, b] = post({{"model", "stories"},
                         {"prompt", "Once upon a time"},
                         {"max_tokens", 60},
                         {"temperature", 0},
                         {"frequency_penalty", penalty}});
    EXPECT_EQ(st, 200) << b.dump();
    return b["choices"][0]["text"].get<std::string>();
  };
  EXPECT_NE(greedy_text(2.0), greedy_text(0.0));
  std::tie(status, body) =
      post({{"model", "stories"}, {"prompt", "x"}, {"logit_bias", {{"99999", 1}}}});
  EXPECT_EQ(status, 400) << body.dump();

  // The model list and one model, OpenAI's shape; an unknown one is a 404 in OpenAI's error shape.
  auto list = web.Get("/v1/models");
  ASSERT_TRUE(list);
  auto models_json = json::parse(list->body);
  EXPECT_EQ(models_json["object"], "list");
  bool listed = false;
  for (auto& m : models_json["data"])
    listed = listed || (m["id"] == "stories" && m["object"] == "model" && m["created"] > 0);
  EXPECT_TRUE(listed) << list->body;
  auto one = web.Get("/v1/models/stories");
  ASSERT_TRUE(one);
  EXPECT_EQ(json::parse(one->body)["id"], "stories");
  // An RPC generate with a token id beyond 32 bits is refused by name (it used to throw out of
  // the dispatcher and leave the node without an RPC endpoint), and RPC answers on.
  auto probe = llmos::test::rpc_call(
      n.rpc, "spawn",
      json::array(
          {"a",
           "model",
           {{"name", "probe"},
            {"spec", std::string{LLMOS_SOURCE_DIR} + "/nodes/examples/models/stories.yaml"}}}));
  ASSERT_FALSE(probe.contains("error")) << probe.dump();
  auto huge = n.send(json::array(
      {"probe", "generate", {{"prompt", json::array({int64_t{1} << 33})}, {"max_tokens", 1}}}));
  ASSERT_TRUE(huge.contains("error")) << huge.dump();
  EXPECT_NE(huge.dump().find("out of range"), std::string::npos) << huge.dump();
  EXPECT_TRUE(llmos::test::rpc_ping(n.rpc));

  // A path that is not UTF-8 gets its 404 (it used to throw out of the handler and abort the
  // node), and the node answers on.
  auto not_utf8 = web.Get("/%FF%FE");
  ASSERT_TRUE(not_utf8);
  EXPECT_EQ(not_utf8->status, 404);
  EXPECT_TRUE(json::parse(not_utf8->body, nullptr, false).is_object()) << not_utf8->body;
  // A feedback body nested half a million levels deep (under the body limit) is refused
  // before it is parsed (its tree used to overflow the stack and kill the node).
  const std::string deep = std::string(500000, '[') + std::string(500000, ']');
  auto nested = web.Post("/v1/feedback", "{\"request_id\": " + deep + "}", "application/json");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->status, 400) << nested->body;
  EXPECT_NE(nested->body.find("nests deeper"), std::string::npos) << nested->body;
  // Bodies httplib would read without a bound (chunked: 8 uploads grew a node by 1.3 GB; no
  // length; gzip, inflated in memory) are refused from their headers, before the body has come.
  for (const auto& [headers, status] : std::vector<std::pair<std::string, std::string>>{
           {"Transfer-Encoding: chunked\r\n", "411"},
           {"", "411"},
           {"Content-Encoding: gzip\r\nContent-Length: 100000\r\n", "415"},
           {"Content-Length: 2000000000\r\n", "413"}}) {
    const auto start = std::chrono::steady_clock::now();
    const auto answer = llmos::test::raw_exchange(
        n.http,
        "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
            "\r\n100000\r\n{\"request_id\": \"",
        10s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << headers << ": " << answer;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s)
        << headers << ": the answer waited for the rest of the body";
  }
  // A second gateway closes completions and feedback behind its token (per-route policy);
  // health, the model list and the first gateway stay open. Too many wrong tokens from one
  // address: 429 with Retry-After, even for the right one, until the window ends.
  auto unknown_group = llmos::test::rpc_call(
      n.rpc, "spawn",
      json::array({"a", "http", {{"name", "guarded"}, {"token", "t"}, {"protect", "complete"}}}));
  EXPECT_NE(unknown_group.dump().find("'complete'"), std::string::npos) << unknown_group.dump();
  auto tokenless = llmos::test::rpc_call(
      n.rpc, "spawn", json::array({"a", "http", {{"name", "guarded"}, {"protect", "all"}}}));
  EXPECT_NE(tokenless.dump().find("needs a token"), std::string::npos) << tokenless.dump();
  const auto guarded_port = llmos::test::free_ports(1)[0];
  auto guarded_spawned =
      llmos::test::rpc_call(n.rpc, "spawn",
                            json::array({"a",
                                         "http",
                                         {{"name", "guarded"},
                                          {"port", std::to_string(guarded_port)},
                                          {"token", "t0ken"},
                                          {"protect", "completions,feedback"}}}));
  ASSERT_FALSE(guarded_spawned.contains("error")) << guarded_spawned.dump();
  {
    httplib::Client guarded{"127.0.0.1", guarded_port};
    guarded.set_read_timeout(60, 0);
    const std::string request = R"({"model": "stories", "prompt": "Once", "max_tokens": 2})";
    auto open = guarded.Post("/v1/completions", request, "application/json");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->status, 401) << open->body;
    httplib::Headers right{{"Authorization", "Bearer t0ken"}};
    auto allowed = guarded.Post("/v1/completions", right, request, "application/json");
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200) << allowed->body;
    EXPECT_EQ(guarded.Get("/v1/models")->status, 200) << "the model list is not protected";
    EXPECT_EQ(guarded.Get("/healthz")->status, 200);
    httplib::Headers wrong{{"Authorization", "Bearer guess"}};
    for (int i = 0; i < 9; ++i)
      EXPECT_EQ(guarded.Post("/v1/feedback", wrong, "{}", "application/json")->status, 403);
    auto held = guarded.Post("/v1/completions", right, request, "application/json");
    ASSERT_TRUE(held);
    EXPECT_EQ(held->status, 429) << held->body;
    EXPECT_GT(std::stoi(held->get_header_value("Retry-After")), 0);
    EXPECT_EQ(web.Post("/v1/completions", request, "application/json")->status, 200)
        << "the open gateway is not held";
  }
  ASSERT_FALSE(llmos::test::rpc_call(n.rpc, "stop", json::array({"guarded"})).contains("error"));
  auto missing = web.Get("/v1/models/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["type"], "invalid_request_error");

  // Errors: a bad field names itself (param), a prompt longer than the context is a 400.
  std::tie(status, body) = post({{"model", "stories"}, {"prompt", "x"}, {"max_tokens", -1}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["param"], "max_tokens") << body.dump();
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  std::string long_prompt;
  for (int i = 0; i < 200; ++i)
    long_prompt += "Lily and Ben ";
  std::tie(status, body) = post({{"model", "stories"}, {"prompt", long_prompt}});
  EXPECT_EQ(status, 400) << body.dump();
  EXPECT_NE(body.dump().find("context"), std::string::npos) << body.dump();
  std::tie(status, body) = post({{"model", "stories"}, {"prompt", "x"}, {"presence_penalty", 2.5}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["param"], "presence_penalty");
  std::tie(status, body) = post({{"model", "stories"}, {"prompt", "x"}, {"logprobs", 6}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["param"], "logprobs");

  // logprobs: greedy, so each token is the most likely of its alternatives; the pieces add up to
  // the text; chat has its own shape.
  std::tie(status, body) = post({{"model", "stories"},
                                 {"prompt", "Once upon a time"},
                                 {"max_tokens", 12},
                                 {"temperature", 0},
                                 {"logprobs", 3}});
  ASSERT_EQ(status, 200) << body.dump();
  const auto& lp = body["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << body.dump();
  ASSERT_EQ(lp["tokens"].size(), 12u);
  std::string joined_pieces;
  for (std::size_t i = 0; i < 12; ++i) {
    joined_pieces += lp["tokens"][i].get<std::string>();
    const double chosen = lp["token_logprobs"][i];
    EXPECT_LE(chosen, 0.0);
    ASSERT_EQ(lp["top_logprobs"][i].size(), 3u) << lp.dump();
    double best = -1e9;
    for (auto& [piece, value] : lp["top_logprobs"][i].items())
      best = std::max(best, value.get<double>());
    EXPECT_NEAR(chosen, best, 1e-6) << "greedy took a token that was not the most likely";
    EXPECT_EQ(lp["text_offset"][i],
              joined_pieces.size() - lp["tokens"][i].get<std::string>().size());
  }
  EXPECT_EQ(joined_pieces, body["choices"][0]["text"]);
  auto chat_lp = web.Post("/v1/chat/completions",
                          json{{"model", "stories"},
                               {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                               {"max_tokens", 5},
                               {"temperature", 0},
                               {"logprobs", true},
                               {"top_logprobs", 2}}
                              .dump(),
                          "application/json");
  ASSERT_TRUE(chat_lp);
  ASSERT_EQ(chat_lp->status, 200) << chat_lp->body;
  const auto content = json::parse(chat_lp->body)["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 5u) << chat_lp->body;
  EXPECT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_GE(content[0]["top_logprobs"][0]["logprob"].get<double>(),
            content[0]["top_logprobs"][1]["logprob"].get<double>());
  // Streamed: each chunk carries its own tokens' logprobs; together they are the answer's.
  auto lp_stream = web.Post("/v1/completions",
                            json{{"model", "stories"},
                                 {"prompt", "Once upon a time"},
                                 {"max_tokens", 12},
                                 {"temperature", 0},
                                 {"logprobs", 3},
                                 {"stream", true}}
                                .dump(),
                            "application/json");
  ASSERT_TRUE(lp_stream);
  ASSERT_EQ(lp_stream->status, 200) << lp_stream->body;
  json streamed_tokens = json::array(), streamed_values = json::array(),
       streamed_offsets = json::array();
  std::istringstream events{lp_stream->body};
  for (std::string line; std::getline(events, line);) {
    if (line.rfind("data: {", 0) != 0)
      continue;
    const auto c = json::parse(line.substr(6))["choices"][0];
    if (!c.contains("logprobs") || c["logprobs"].is_null())
      continue;
    for (std::size_t i = 0; i < c["logprobs"]["tokens"].size(); ++i) {
      streamed_tokens.push_back(c["logprobs"]["tokens"][i]);
      streamed_values.push_back(c["logprobs"]["token_logprobs"][i]);
      streamed_offsets.push_back(c["logprobs"]["text_offset"][i]);
      EXPECT_EQ(c["logprobs"]["top_logprobs"][i].size(), 3u);
    }
  }
  EXPECT_EQ(streamed_tokens, lp["tokens"]) << lp_stream->body;
  EXPECT_EQ(streamed_values, lp["token_logprobs"]);
  EXPECT_EQ(streamed_offsets, lp["text_offset"]);

  // A crowd of long generations on two contexts of KV cache; a low-priority one started over
  // RPC with a number shows up in `sequences`, is reprioritised and cancelled from the REPL.
  const std::vector<std::string> prompts{"The cat", "Once upon a time", "Tom went", "Lily saw"};
  std::vector<std::string> alone;
  for (auto& p : prompts) {
    auto [st, b] =
        post({{"model", "stories"}, {"prompt", p}, {"max_tokens", 400}, {"temperature", 0}});
    ASSERT_EQ(st, 200) << b.dump();
    alone.push_back(b["choices"][0]["text"]);
  }
  std::vector<std::string> crowd_out(8);
  std::vector<std::thread> crowd;
  for (std::size_t i = 0; i < crowd_out.size(); ++i)
    crowd.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", n.http);
      c.set_read_timeout(120, 0);
      auto r = post_greedy_400(c, "crowd", prompts[i % prompts.size()]);
      crowd_out[i] = r && r->status == 200
                         ? json::parse(r->body)["choices"][0]["text"].get<std::string>()
                         : "<failed " + (r ? r->body : std::string{"no answer"}) + ">";
    });
  json cancelled_answer;
  std::thread victim([&] {
    cancelled_answer = n.send(json::array({"crowd-server",
                                           "generate",
                                           {{"text", "The dog"},
                                            {"max_tokens", "450"},
                                            {"temperature", "0"},
                                            {"priority", "-5"},
                                            {"id", "4242"}}}));
  });
  json row, seqs;
  const bool victim_listed = wait_until(
      [&] {
        seqs = n.send(json::array({"crowd-server", "sequences", json::object()}));
        for (auto& r : seqs)
          if (r.is_object() && r["id"] == 4242)
            row = r;
        return !row.is_null();
      },
      20s);
  if (!victim_listed) { // the threads must end before the test does
    victim.join();
    for (auto& t : crowd)
      t.join();
    FAIL() << "generation 4242 never listed; last answer: " << seqs.dump()
           << "; its own answer: " << cancelled_answer.dump();
  }
  EXPECT_EQ(row["priority"], -5) << row.dump();
  auto repl = llmos::test::run_repl(n.rpc, {"send crowd-server priority id=4242 value=-7",
                                            "send crowd-server cancel id=4242",
                                            "send crowd-server cancel id=4242"});
  EXPECT_EQ(repl.exit_code, 0) << repl.err; // not ASSERT: the crowd threads must be joined
  EXPECT_EQ(repl.line(0)["changed"], true) << repl.line(0).dump();
  EXPECT_EQ(repl.line(1)["cancelled"], true) << repl.line(1).dump();
  EXPECT_EQ(repl.line(2)["cancelled"], false) << repl.line(2).dump(); // it is gone
  victim.join();
  EXPECT_EQ(cancelled_answer["finish_reason"], "cancelled") << cancelled_answer.dump();
  EXPECT_LT(cancelled_answer["completion_tokens"].get<int>(), 450);

  // A streaming client that goes away after its first piece: its generation is cancelled.
  int pieces = 0;
  auto gone = streamed_completion(
      {{"model", "crowd"}, {"prompt", "A big fish"}, {"max_tokens", 450}, {"temperature", 0}},
      [&](const char*, size_t, uint64_t, uint64_t) { return ++pieces < 2; });
  httplib::Client quitter("127.0.0.1", n.http);
  (void)quitter.send(gone);
  EXPECT_GE(pieces, 1);
  // A non-streamed client that gives up while its (low-priority) generation waits behind the
  // crowd: the gateway sees the connection close (checked every 100 ms) and cancels it. The
  // crowd's 3,200 tokens take about 400 ms here, and this request comes some 50 ms after them:
  // giving up after 300 ms, it sometimes saw its generation finish before the cancel.
  httplib::Client impatient("127.0.0.1", n.http);
  impatient.set_read_timeout(0, 100000);
  auto given_up = impatient.Post("/v1/completions",
                                 json{{"model", "crowd"},
                                      {"prompt", "A red ball"},
                                      {"max_tokens", 450},
                                      {"temperature", 0},
                                      {"priority", -10}}
                                     .dump(),
                                 "application/json");
  EXPECT_FALSE(given_up) << "answered within 100 ms behind the crowd: " << given_up->body;
  impatient.stop();
  for (auto& t : crowd)
    t.join();
  for (std::size_t i = 0; i < crowd_out.size(); ++i)
    EXPECT_EQ(crowd_out[i], alone[i % alone.size()]) << "crowd request " << i;
  std::string metrics;
  EXPECT_TRUE(wait_until(
      [&] {
        auto m = web.Get("/metrics");
        metrics = m ? m->body : "";
        return metric(metrics, "llmos_model_cancelled{model=\"crowd\"}") >= 3 &&
               metric(metrics, "llmos_model_kv_blocks_used{model=\"crowd\"}") == 0 &&
               metric(metrics, "llmos_model_kv_swap_blocks_used{model=\"crowd\"}") == 0;
      },
      20s))
      << "the REPL's and the two departed clients' generations were not all cancelled: "
      << metric(metrics, "llmos_model_cancelled{model=\"crowd\"}");
  EXPECT_GT(metric(metrics, "llmos_model_preemptions{model=\"crowd\"}"), 0)
      << "two contexts of cache never ran out";
  // kv_swap: preempted crowd caches went to host memory (and came back: the texts above match).
  EXPECT_GT(metric(metrics, "llmos_model_kv_swaps{model=\"crowd\"}"), 0);
  EXPECT_NE(metrics.find("llmos_serving_time_to_first_token_seconds_count"), std::string::npos);
  EXPECT_NE(metrics.find("llmos_serving_inter_token_seconds_bucket"), std::string::npos);

  // A full generate queue answers 429 with Retry-After, in OpenAI's error shape.
  std::vector<int> statuses(12);
  std::vector<std::string> retry_after(12), error_type(12);
  std::vector<std::thread> rush;
  // All twelve post at once (connected first): started one after another on a loaded machine,
  // each could find the queue empty again (seen once in a full parallel ctest run).
  std::latch ready(static_cast<std::ptrdiff_t>(statuses.size()));
  for (std::size_t i = 0; i < statuses.size(); ++i)
    rush.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", n.http);
      c.set_read_timeout(120, 0);
      c.set_keep_alive(true);
      c.Get("/healthz"); // the connection is open before the rush
      ready.arrive_and_wait();
      auto r = post_greedy_400(c, "tight", prompts[i % prompts.size()]);
      statuses[i] = r ? r->status : 0;
      if (r && r->status == 429) {
        retry_after[i] = r->get_header_value("Retry-After");
        error_type[i] = json::parse(r->body)["error"]["type"];
      } else if (r && r->status == 200) {
        error_type[i] = json::parse(r->body)["choices"][0]["text"];
      }
    });
  for (auto& t : rush)
    t.join();
  int ok = 0, refused = 0;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == 200) {
      ++ok;
      EXPECT_EQ(error_type[i], alone[i % alone.size()]) << "tight request " << i;
    } else {
      ++refused;
      EXPECT_EQ(statuses[i], 429);
      EXPECT_EQ(retry_after[i], "1");
      EXPECT_EQ(error_type[i], "rate_limit_error");
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1) << "twelve long generations at once never filled a queue of two";

  // OpenAI's own Node client, unchanged, against the same gateway.
  const auto entry = llmos::dataset::data_path("openai/package/index.mjs");
  ASSERT_FALSE(entry.empty()) << "npm openai is missing from " << llmos::dataset::data_dir()
                              << ": run tools/setup/setup.sh (data.lock pins it)";
  auto client = llmos::test::run_program(
      {"/usr/bin/env", "node", std::string{LLMOS_SOURCE_DIR} + "/tests/nodes/openai_client.mjs",
       entry, "http://127.0.0.1:" + std::to_string(n.http) + "/v1", "stories"},
      120s);
  ASSERT_EQ(client.exit_code, 0) << client.out << client.err;
  auto seen = json::parse(client.out, nullptr, false);
  ASSERT_TRUE(seen.is_object()) << client.out;
  EXPECT_EQ(seen["completion"].get<std::string>() + "\n", expected);
  EXPECT_EQ(seen["finish"], "length");
  EXPECT_EQ(seen["usage"]["completion_tokens"], 200);
  EXPECT_EQ(seen["streamed_until_stop"], first_sentence);
  EXPECT_TRUE(seen["stream_usage"].is_object()) << client.out;
  EXPECT_EQ(seen["chat_role"], "assistant");
  EXPECT_EQ(seen["chat"], seen["chat_streamed"]);
  EXPECT_FALSE(seen["chat"].get<std::string>().empty());
  EXPECT_NE(std::find(seen["models"].begin(), seen["models"].end(), "stories"),
            seen["models"].end())
      << client.out;
  EXPECT_EQ(seen["model"], "stories");
  EXPECT_EQ(seen["error"], "BadRequestError") << client.out;
  EXPECT_EQ(seen["error_status"], 400);
  EXPECT_EQ(seen["error_param"], "max_tokens");
  EXPECT_EQ(seen["missing"], "NotFoundError");

  // SIGTERM after all this serving: the node stops cleanly (it used to abort with "pure virtual
  // method called": the server's exit hook read its state after CAF had destroyed it).
  ASSERT_TRUE(n.node.signal(SIGTERM));
  const auto exit_status = n.node.wait_for(30s);
  ASSERT_TRUE(exit_status) << "the node did not stop within 30 s of SIGTERM";
  EXPECT_EQ(*exit_status, 0) << n.log();
  EXPECT_EQ(n.log().find("pure virtual"), std::string::npos) << n.log();
}

} // namespace
