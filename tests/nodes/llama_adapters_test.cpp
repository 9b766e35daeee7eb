// LoRA fine-tunes served as adapters over one base through a real node: two fine-tunes of
// stories260K made here and imported as llmos checkpoints are listed in one server's `adapters`;
// requests name them as models, run on the base's replica together, and each answers what its
// fine-tune answers when it is deployed alone.
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../actors/model/formats_test_util.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "llama_node.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/train/engine.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// stories260K fine-tuned with LoRA (rank 4) on `text` for a few steps, saved to `out` as an llmos
/// checkpoint (adapters unmerged).
void fine_tune(const std::string& models, const std::string& text,
               const std::filesystem::path& out) {
  using namespace llmos;
  auto w = model::read_llama2c(models + "/stories260K.bin", models + "/tok512.bin");
  ASSERT_TRUE(w) << describe(w.error());
  auto tok = dataset::llama_tokenizer::create(w->vocab);
  ASSERT_TRUE(tok) << describe(tok.error());
  auto e = model::engine::from_llama(*w, "tuned");
  ASSERT_TRUE(e) << describe(e.error());
  auto ids = tok->encode(text + " " + text + " " + text);
  ids.insert(ids.begin(), w->vocab.bos);
  const auto batch = llmos::test::lm_batch(ids, 16);
  auto training = (*e)->spec();
  training.lora_rank = 4;
  training.lr = 1e-2;
  training.max_steps = 30;
  training.warmup_steps = 0;
  ASSERT_FALSE((*e)->fine_tune("lora", training, model::label_vocab{}));
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE((*e)->train_step(batch));
  ASSERT_FALSE((*e)->save(out.string()));
}

TEST(llama_node, fine_tunes_are_served_as_adapters_over_one_base) {
  std::string why;
  const auto models = llmos::test::stories260k_dir(&why);
  ASSERT_FALSE(models.empty()) << why;
  llama_node n("      - {name: tuned-server, kind: server, config: {model: base, adapters: "
               "\"zorp, pip@1\"}}\n"
               "      - {name: alone-server, kind: server, config: {model: zorp-alone, version: "
               "latest}}\n");
  fine_tune(models, "Zorp the robot likes purple cheese and sings to the moon every night.",
            n.dir / "zorp.pt");
  fine_tune(models, "Pip the frog jumps over the blue river to find his green hat.",
            n.dir / "pip.pt");
  ASSERT_NO_FATAL_FAILURE(n.ready_with_stories({"base"}));
  for (auto [name, file] : {std::pair{"zorp", "zorp.pt"}, std::pair{"pip", "pip.pt"},
                            std::pair{"zorp-alone", "zorp.pt"}}) {
    auto imported = n.send(json::array({"registry",
                                        "import",
                                        {{"model", name},
                                         {"format", "llmos"},
                                         {"path", (n.dir / file).string()},
                                         {"tokenizer", models + "/tok512.bin"}}}));
    ASSERT_FALSE(imported.contains("error")) << imported.dump() << n.log();
  }

  httplib::Client web("127.0.0.1", n.http);
  web.set_read_timeout(60, 0);
  auto complete = [&](const std::string& model) {
    httplib::Client c("127.0.0.1", n.http);
    c.set_read_timeout(60, 0);
    auto r = c.Post("/v1/completions",
                    json{{"model", model},
                         {"prompt", "Once upon a time"},
                         {"max_tokens", 40},
                         {"temperature", 0}}
                        .dump(),
                    "application/json");
    return r ? std::make_pair(r->status, json::parse(r->body, nullptr, false))
             : std::make_pair(0, json());
  };
  // The server retries its deployment until the adapters are in the registry.
  ASSERT_TRUE(wait_until([&] { return complete("pip").first == 200; }, 60s)) << n.log();
  ASSERT_TRUE(wait_until([&] { return complete("zorp-alone").first == 200; }, 60s)) << n.log();

  // The base and both adapters at once, on the one replica of tuned-server.
  std::vector<std::future<std::pair<int, json>>> answers;
  for (const char* model : {"base", "zorp", "pip"})
    answers.push_back(std::async(std::launch::async, complete, std::string{model}));
  std::map<std::string, std::string> text;
  for (auto& a : answers) {
    auto [status, body] = a.get();
    ASSERT_EQ(status, 200) << body.dump();
    text[body["model"]] = body["choices"][0]["text"];
  }
  ASSERT_EQ(text.size(), 3u) << "every answer names the model it was asked for";
  auto [status, alone] = complete("zorp-alone");
  ASSERT_EQ(status, 200) << alone.dump();
  EXPECT_EQ(text["zorp"], alone["choices"][0]["text"])
      << "the adapter over the base answers what the whole fine-tune answers";
  EXPECT_NE(text["zorp"], text["base"]);
  EXPECT_NE(text["zorp"], text["pip"]);
  EXPECT_NE(text["pip"], text["base"]);

  // Through the REPL's server method too.
  auto rpc = n.send(json::array({"tuned-server",
                                 "generate",
                                 {{"text", "Once upon a time"},
                                  {"max_tokens", "40"},
                                  {"temperature", "0"},
                                  {"model", "pip"}}}));
  ASSERT_FALSE(rpc.contains("error")) << rpc.dump();
  EXPECT_EQ(rpc["text"], text["pip"]);
  EXPECT_EQ(rpc["model"], "pip");

  // The model list names the base of each adapter; unknown names are 404 in OpenAI's shape.
  auto listed = web.Get("/v1/models/zorp");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(json::parse(listed->body)["parent"], "base");
  auto [missing, err] = complete("zorp-v9");
  EXPECT_EQ(missing, 404);
  EXPECT_EQ(err["error"]["param"], "model") << err.dump();
  // A server asked directly for an adapter it does not serve says which it does.
  auto wrong = n.send(
      json::array({"tuned-server", "generate", {{"text", "Once"}, {"model", "zorp-alone"}}}));
  ASSERT_TRUE(wrong.contains("error")) << wrong.dump();
  EXPECT_NE(wrong["error"].dump().find("'pip'"), std::string::npos) << wrong.dump();
}

} // namespace
