#include "serving/completion_logprobs.hpp"

#include <nlohmann/json.hpp>

#include "serving/request_rows.hpp"

namespace llmos::serving {

std::string openai_logprobs(const dataset::tokenizer& tok, const std::vector<int32_t>& prompt,
                            const std::vector<std::string>& per_token, std::size_t text_limit) {
  return openai_logprobs(tok, prompt, per_token, 0, text_limit);
}

std::string openai_logprobs(const dataset::tokenizer& tok, const std::vector<int32_t>& prompt,
                            const std::vector<std::string>& per_token, std::size_t from,
                            std::size_t text_limit) {
  nlohmann::json tokens = nlohmann::json::array(), values = nlohmann::json::array(),
                 tops = nlohmann::json::array(), offsets = nlohmann::json::array();
  // A piece is the text a token adds after the one before it (the prompt's last, at first).
  std::vector<int32_t> before;
  if (!prompt.empty())
    before.push_back(prompt.back());
  auto piece = [&](int32_t id) {
    auto text = continuation_text(tok, before, {id});
    return text ? *text : std::string{};
  };
  std::size_t offset = 0;
  for (const auto& text : per_token) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("token") || !j["token"].is_number_integer())
      continue;
    if (offset >= text_limit)
      break;
    const auto id = j["token"].get<int32_t>();
    const auto p = piece(id);
    if (offset < from) { // in an earlier chunk
      offset += p.size();
      before.assign(1, id);
      continue;
    }
    tokens.push_back(p);
    values.push_back(j.value("logprob", 0.0));
    nlohmann::json alternatives = nlohmann::json::object();
    for (const auto& alt : j.value("top", nlohmann::json::array()))
      if (alt.is_array() && alt.size() == 2 && alt[0].is_number_integer())
        alternatives[piece(alt[0].get<int32_t>())] = alt[1];
    tops.push_back(alternatives);
    offsets.push_back(offset);
    offset += p.size();
    before.assign(1, id);
  }
  return nlohmann::json{{"tokens", tokens},
                        {"token_logprobs", values},
                        {"top_logprobs", tops},
                        {"text_offset", offsets}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace llmos::serving
