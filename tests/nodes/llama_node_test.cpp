// A real pretrained model through a real node: stories260K (llama2.c's published model) is
// imported into the registry over msgpack-RPC, served behind the HTTP gateway, and greedy
// decoding from BOS reproduces llama2.c's published output byte for byte through the REPL,
// msgpack-RPC and /v1/completions. A damaged file publishes nothing; the GGUF export imports
// back to the same text. A GGUF that carries a chat template (Llama-2's) has its chat
// completions rendered with it, and exports it again.
#include <filesystem>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../actors/model/formats_test_util.hpp"
#include "llama_node.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/gguf_reader.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// `server`'s greedy 200 tokens from BOS over msgpack-RPC into `answer`, asked again until it
/// answers without an error (30 s): a model just made production is served once its server has
/// loaded it.
testing::AssertionResult greedy_200(const llama_node& n, const std::string& server, json& answer) {
  const bool served = wait_until(
      [&] {
        answer = n.send(json::array(
            {server, "generate", {{"text", ""}, {"max_tokens", "200"}, {"temperature", "0"}}}));
        return !answer.contains("error");
      },
      30s);
  if (served)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << answer.dump() << n.log();
}

TEST(llama_node, imported_model_reproduces_the_reference_through_repl_rpc_and_http) {
  std::string why;
  const auto models = llmos::test::stories260k_dir(&why);
  ASSERT_FALSE(models.empty()) << why;
  const auto expected = read_file(std::filesystem::path(models) / "expected-greedy-200.txt");
  llama_node n("      - {name: chat-server, kind: server, config: {model: stories-chat}}\n");
  ASSERT_NO_FATAL_FAILURE(n.wait_ready());

  // A truncated checkpoint is refused by name and publishes nothing.
  const auto original = read_file(std::filesystem::path(models) / "stories260K.bin");
  write_file(n.dir / "cut.bin", original.substr(0, original.size() / 2));
  write_file(n.dir / "tokenizer.bin", read_file(std::filesystem::path(models) / "tok512.bin"));
  auto refused = n.send(json::array(
      {"registry",
       "import",
       {{"model", "stories"}, {"format", "llama2c"}, {"path", (n.dir / "cut.bin").string()}}}));
  ASSERT_TRUE(refused.contains("error")) << refused.dump();
  EXPECT_NE(refused.dump().find("cut.bin"), std::string::npos) << refused.dump();
  auto none = n.send(json::array({"registry", "versions", {{"model", "stories"}}}));
  EXPECT_TRUE(none.contains("error") || (none.is_array() && none.empty())) << none.dump();

  auto imported = n.send(json::array({"registry",
                                      "import",
                                      {{"model", "stories"},
                                       {"format", "llama2c"},
                                       {"path", models + "/stories260K.bin"},
                                       {"note", "llama2.c stories260K"}}}));
  ASSERT_FALSE(imported.contains("error")) << imported.dump() << n.log();
  EXPECT_EQ(imported["version"], 1);
  EXPECT_EQ(imported["lineage"]["sha256"],
            "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
  EXPECT_EQ(imported["lineage"]["format"], "llama2c");
  auto alias = n.send(json::array(
      {"registry", "alias", {{"model", "stories"}, {"alias", "production"}, {"version", "1"}}}));
  ASSERT_FALSE(alias.contains("error")) << alias.dump();

  // msgpack-RPC, as any client library would call it.
  json rpc_answer;
  ASSERT_TRUE(greedy_200(n, "stories-server", rpc_answer));
  EXPECT_EQ(rpc_answer["text"].get<std::string>() + "\n", expected);
  EXPECT_EQ(rpc_answer["completion_tokens"], 200);

  // The REPL, as a user types it.
  auto repl = llmos::test::run_repl(
      n.rpc, {"send stories-server generate text=\"\" max_tokens=200 temperature=0"});
  ASSERT_EQ(repl.exit_code, 0) << repl.err;
  EXPECT_EQ(repl.line(0)["text"].get<std::string>() + "\n", expected) << repl.line(0).dump();

  // HTTP, OpenAI-style.
  httplib::Client web("127.0.0.1", n.http);
  web.set_read_timeout(60, 0);
  auto whole = web.Post(
      "/v1/completions",
      json{{"model", "stories"}, {"prompt", ""}, {"max_tokens", 200}, {"temperature", 0}}.dump(),
      "application/json");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  auto body = json::parse(whole->body);
  EXPECT_EQ(body["choices"][0]["text"].get<std::string>() + "\n", expected);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 200);

  // A continuation keeps its leading space: the prompt's text plus the completion reads as one.
  auto cont = web.Post(
      "/v1/completions",
      json{{"model", "stories"}, {"prompt", "Once upon a"}, {"max_tokens", 3}, {"temperature", 0}}
          .dump(),
      "application/json");
  ASSERT_TRUE(cont);
  ASSERT_EQ(cont->status, 200) << cont->body;
  const auto cont_text = json::parse(cont->body)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(cont_text.rfind(" time", 0), 0u) << cont_text;

  // Concurrent clients share decode steps (continuous batching) and each gets exactly the text
  // it gets alone.
  const std::vector<std::string> prompts{"The cat", "Once upon a time", "Tom went", "Lily saw",
                                         "The sun", "A little bird",    "Ben had",  "Mom said"};
  auto complete = [&](const std::string& prompt) {
    httplib::Client c("127.0.0.1", n.http);
    c.set_read_timeout(60, 0);
    auto r = c.Post(
        "/v1/completions",
        json{{"model", "stories"}, {"prompt", prompt}, {"max_tokens", 48}, {"temperature", 0}}
            .dump(),
        "application/json");
    return r && r->status == 200 ? json::parse(r->body)["choices"][0]["text"].get<std::string>()
                                 : std::string{"<failed>"};
  };
  std::vector<std::string> alone, together(prompts.size());
  for (auto& p : prompts)
    alone.push_back(complete(p));
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    clients.emplace_back([&, i] { together[i] = complete(prompts[i]); });
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(together, alone);
  auto metrics = web.Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string key = "llmos_model_decode_batch_max{model=\"stories\"} ";
  const auto at = metrics->body.find(key);
  ASSERT_NE(at, std::string::npos) << metrics->body.substr(0, 2000);
  EXPECT_GE(std::stod(metrics->body.substr(at + key.size())), 2.0)
      << "concurrent requests never decoded in one step";

  // Exported to GGUF over the admin API, imported back over HTTP: the same greedy text.
  httplib::Headers admin{{"Authorization", "Bearer secret"}};
  auto gguf = web.Get("/v1/models/stories/versions/1/export/gguf", admin);
  ASSERT_TRUE(gguf);
  ASSERT_EQ(gguf->status, 200) << gguf->body;
  EXPECT_EQ(gguf->body.substr(0, 4), "GGUF");
  write_file(n.dir / "stories.gguf", gguf->body);
  auto back = web.Post("/v1/admin/models/stories-gguf/import", admin,
                       json{{"format", "gguf"}, {"path", (n.dir / "stories.gguf").string()}}.dump(),
                       "application/json");
  ASSERT_TRUE(back);
  ASSERT_EQ(back->status, 201) << back->body;
  auto alias2 =
      n.send(json::array({"registry",
                          "alias",
                          {{"model", "stories-gguf"}, {"alias", "production"}, {"version", "1"}}}));
  ASSERT_FALSE(alias2.contains("error")) << alias2.dump();
  json again;
  ASSERT_TRUE(greedy_200(n, "gguf-server", again));
  EXPECT_EQ(again["text"].get<std::string>() + "\n", expected);

  // The same weights with Llama-2-chat's template in the GGUF (tokenizer.chat_template): chat
  // completions are rendered with it on the server, so they answer what the rendered prompt
  // answers as a plain completion; the model without a template joins the contents instead.
  auto chat_weights = llmos::model::read_gguf((n.dir / "stories.gguf").string());
  ASSERT_TRUE(chat_weights) << llmos::describe(chat_weights.error());
  chat_weights->chat_template =
      "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
      "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% "
      "set system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
      "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
      "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
      "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' "
      "+ content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
      "content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
  ASSERT_FALSE(llmos::model::write_gguf(*chat_weights, (n.dir / "chat.gguf").string(),
                                        llmos::model::gguf_tensor_type::f32));
  auto chat_import =
      web.Post("/v1/admin/models/stories-chat/import", admin,
               json{{"format", "gguf"}, {"path", (n.dir / "chat.gguf").string()}}.dump(),
               "application/json");
  ASSERT_TRUE(chat_import);
  ASSERT_EQ(chat_import->status, 201) << chat_import->body;
  ASSERT_FALSE(
      n.send(json::array({"registry",
                          "alias",
                          {{"model", "stories-chat"}, {"alias", "production"}, {"version", "1"}}}))
          .contains("error"));
  const json messages = json::array({{{"role", "system"}, {"content", "You tell stories."}},
                                     {{"role", "user"}, {"content", " Lily had a cat. "}}});
  auto ask = [&](const std::string& path, json body) {
    body["max_tokens"] = 24;
    body["temperature"] = 0;
    auto r = web.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r);
    return r && r->status == 200 ? json::parse(r->body) : json{{"status", r ? r->status : 0}};
  };
  json chat;
  ASSERT_TRUE(wait_until(
      [&] {
        chat = ask("/v1/chat/completions", {{"model", "stories-chat"}, {"messages", messages}});
        return chat.contains("choices");
      },
      30s))
      << chat.dump() << n.log();
  const auto plain =
      ask("/v1/completions",
          {{"model", "stories-chat"},
           {"prompt", "[INST] <<SYS>>\nYou tell stories.\n<</SYS>>\n\nLily had a cat. [/INST]"}});
  ASSERT_TRUE(plain.contains("choices")) << plain.dump();
  EXPECT_NE(n.log().find("chat prompts of stories-chat v1 use its llama2 template"),
            std::string::npos)
      << n.log();
  EXPECT_EQ(chat["choices"][0]["message"]["content"], plain["choices"][0]["text"]);
  EXPECT_EQ(chat["usage"]["prompt_tokens"], plain["usage"]["prompt_tokens"]);
  const auto untemplated =
      ask("/v1/chat/completions", {{"model", "stories"}, {"messages", messages}});
  const auto joined = ask("/v1/completions", {{"model", "stories"},
                                              {"prompt", "You tell stories.\n Lily had a cat. "}});
  EXPECT_EQ(untemplated["usage"]["prompt_tokens"], joined["usage"]["prompt_tokens"])
      << "no template: contents joined by newlines";
  EXPECT_LT(untemplated["usage"]["prompt_tokens"], chat["usage"]["prompt_tokens"]);
  auto bad_role =
      web.Post("/v1/chat/completions",
               json{{"model", "stories-chat"}, {"messages", {{{"content", "x"}}}}}.dump(),
               "application/json");
  ASSERT_TRUE(bad_role);
  EXPECT_EQ(bad_role->status, 400);
  EXPECT_EQ(json::parse(bad_role->body)["error"]["param"], "messages[0].role");
  // Exported again, the GGUF carries the template.
  auto chat_gguf = web.Get("/v1/models/stories-chat/versions/1/export/gguf", admin);
  ASSERT_TRUE(chat_gguf);
  ASSERT_EQ(chat_gguf->status, 200) << chat_gguf->body;
  EXPECT_NE(chat_gguf->body.find("tokenizer.chat_template"), std::string::npos);
  EXPECT_NE(chat_gguf->body.find(chat_weights->chat_template), std::string::npos);
}

} // namespace
