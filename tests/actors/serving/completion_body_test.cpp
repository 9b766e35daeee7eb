// The completion body checks of the HTTP gateway: what a valid body becomes, and that each wrong
// field is refused naming it, including the values that used to throw out of the handler
// (nlohmann's typed getters on a null or a string: "logprobs": null in a chat body, "echo": "yes",
// "stream_options": {"include_usage": 1}).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/completion_body.hpp"

namespace {

using llmos::http::body_error;
using llmos::http::parse_completion_body;
using nlohmann::json;

/// The field a refused body names ("" when the body passed).
std::string refused_field(const json& body, bool chat) {
  body_error err;
  auto parsed = parse_completion_body(body, chat, err);
  EXPECT_EQ(parsed.has_value(), err.message.empty()) << body.dump();
  return parsed ? "" : err.field;
}

TEST(completion_body, reads_every_field_of_a_completion) {
  body_error err;
  auto body = json::parse(R"({"model": "stories", "prompt": "Once", "max_tokens": 16,
    "temperature": 0.5, "top_p": 0.9, "top_k": 40, "seed": 7, "stop": ["\n", "."],
    "logprobs": 2, "echo": true, "n": 3, "priority": 2, "presence_penalty": 1,
    "logit_bias": {"17": -100}})");
  auto parsed = parse_completion_body(body, false, err);
  ASSERT_TRUE(parsed) << err.message;
  EXPECT_EQ(parsed->model, "stories");
  const auto& r = parsed->request;
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_EQ(r.max_tokens, 16u);
  EXPECT_DOUBLE_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.top_k, 40);
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_EQ(r.logprobs, 2);
  EXPECT_EQ(r.priority, 2);
  EXPECT_EQ(r.bias_tokens, std::vector<int32_t>{17});
  EXPECT_TRUE(parsed->echo);
  EXPECT_EQ(parsed->n, 3);
  EXPECT_FALSE(parsed->stream);
  auto again = parse_completion_body(body, false, err);
  EXPECT_NE(again->request.request, r.request) << "each request gets a fresh number";
}

TEST(completion_body, reads_chat_messages_and_their_options) {
  body_error err;
  auto body = json::parse(R"({"model": "m", "messages": [{"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "you"}]}],
    "stream": true, "stream_options": {"include_usage": true}, "logprobs": true,
    "top_logprobs": 3})");
  auto parsed = parse_completion_body(body, true, err);
  ASSERT_TRUE(parsed) << err.message;
  EXPECT_EQ(parsed->request.chat,
            (std::vector<std::string>{"system", "Be brief.", "user", "Hi you"}));
  EXPECT_TRUE(parsed->stream);
  EXPECT_TRUE(parsed->include_usage);
  EXPECT_EQ(parsed->request.logprobs, 3);
}

TEST(completion_body, without_logprobs_none_are_asked) {
  body_error err;
  for (bool chat : {false, true}) {
    auto body = json::parse(chat ? R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                      "logprobs": false})"
                                 : R"({"model": "m", "prompt": "x"})");
    auto parsed = parse_completion_body(body, chat, err);
    ASSERT_TRUE(parsed) << err.message;
    EXPECT_EQ(parsed->request.logprobs, -1) << "chat " << chat;
  }
}

TEST(completion_body, null_means_absent) {
  EXPECT_EQ(refused_field(json::parse(R"({"model": "m", "messages": [{"role": "user",
    "content": "x"}], "logprobs": null, "stop": null, "n": null})"),
                          true),
            "");
}

TEST(completion_body, refuses_each_wrong_field_by_name) {
  const std::vector<std::tuple<std::string, bool, std::string>> cases{
      {R"({"prompt": "x"})", false, "model"},
      {R"({"model": "m"})", false, "prompt"},
      {R"({"model": "m", "prompt": "x", "echo": "yes"})", false, "echo"},
      {R"({"model": "m", "prompt": "x", "stream": true, "stream_options": {"include_usage": 1}})",
       false, "stream_options.include_usage"},
      {R"({"model": "m", "prompt": "x", "stream": true, "stream_options": 3})", false,
       "stream_options"},
      {R"({"model": "m", "prompt": "x", "n": 17})", false, "n"},
      {R"({"model": "m", "prompt": "x", "n": 2, "stream": true})", false, "n"},
      {R"({"model": "m", "prompt": "x", "max_tokens": 0})", false, "max_tokens"},
      {R"({"model": "m", "prompt": "x", "stop": ["a", 1]})", false, "stop"},
      {R"({"model": "m", "prompt": "x", "stop": [""]})", false, "stop"},
      {R"({"model": "m", "prompt": "x", "logit_bias": {"-1": 1}})", false, "logit_bias"},
      {R"({"model": "m", "prompt": "x", "logprobs": 6})", false, "logprobs"},
      {R"({"model": "m", "prompt": "x", "user": 5})", false, "user"},
      {R"({"model": "m", "messages": []})", true, "messages"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}, {"content": "b"}]})", true,
       "messages[1].role"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]})", true,
       "messages[0].content"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "logprobs": 1})", true,
       "logprobs"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "top_logprobs": 2})", true,
       "top_logprobs"},
  };
  for (const auto& [text, chat, field] : cases)
    EXPECT_EQ(refused_field(json::parse(text), chat), field) << text;
  body_error err;
  EXPECT_FALSE(parse_completion_body(json::array(), false, err)) << "a body that is no object";
}

} // namespace
