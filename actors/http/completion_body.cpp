#include "http/completion_body.hpp"

#include <atomic>
#include <climits>
#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

namespace llmos::http {
namespace {

std::atomic<uint64_t> next_request{1};

/// Reads the fields of one body; the first refusal is kept in `err` and ends the parse.
class field_reader {
public:
  field_reader(const nlohmann::json& body, body_error& err) : body_(body), err_(err) {}

  bool refuse(std::string message, std::string field) {
    err_ = {std::move(message), std::move(field)};
    return false;
  }

  /// Absent or null: nullptr; otherwise the value.
  const nlohmann::json* get(const char* key) const {
    auto it = body_.find(key);
    return it == body_.end() || it->is_null() ? nullptr : &*it;
  }

  /// A number within [lo, hi], `fallback` when absent.
  bool number(const char* key, double lo, double hi, double fallback, double& out) {
    const auto* v = get(key);
    if (!v) {
      out = fallback;
      return true;
    }
    if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi)
      return refuse(std::string{key} + " must be a number from " + std::to_string(lo) + " to " +
                        std::to_string(hi),
                    key);
    out = v->get<double>();
    return true;
  }

  /// true or false, `false` when absent.
  bool flag(const char* key, bool& out) {
    const auto* v = get(key);
    if (v && !v->is_boolean())
      return refuse(std::string{key} + " must be true or false", key);
    out = v && v->get<bool>();
    return true;
  }

private:
  const nlohmann::json& body_;
  body_error& err_;
};

/// A message's content: a string, or OpenAI's list of parts of which the text ones are joined;
/// nullopt for anything else (images are not for these models).
std::optional<std::string> content_text(const nlohmann::json& content) {
  if (content.is_string())
    return content.get<std::string>();
  if (!content.is_array())
    return std::nullopt;
  std::string out;
  for (const auto& part : content) {
    if (!part.is_object())
      return std::nullopt;
    auto type = part.find("type");
    auto text = part.find("text");
    if (type == part.end() || *type != "text" || text == part.end() || !text->is_string())
      return std::nullopt;
    out += text->get<std::string>();
  }
  return out;
}

bool read_messages(field_reader& in, complete_request& req) {
  const auto* messages = in.get("messages");
  if (!messages || !messages->is_array() || messages->empty())
    return in.refuse("\"messages\" must be a non-empty array", "messages");
  // The server renders them with its model's chat template (it owns the tokenizer).
  if (messages->size() > 4096)
    return in.refuse("\"messages\" holds more than 4096 messages", "messages");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const auto& m = (*messages)[i];
    const auto at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      return in.refuse(at + " must be an object", at);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string() || role->get<std::string>().empty())
      return in.refuse(at + ".role must be a string such as \"user\"", at + ".role");
    auto content = m.find("content");
    auto text = content == m.end() ? std::nullopt : content_text(*content);
    if (!text)
      return in.refuse(at + ".content must be a string or a list of {\"type\": \"text\", "
                            "\"text\": ...} parts",
                       at + ".content");
    req.chat.push_back(role->get<std::string>());
    req.chat.push_back(std::move(*text));
  }
  return true;
}

bool read_stop(field_reader& in, complete_request& req) {
  const auto* stop = in.get("stop");
  if (!stop)
    return true;
  const char* shape = "stop must be a string or an array of at most 4 non-empty strings";
  if (stop->is_string()) {
    req.stop.push_back(stop->get<std::string>());
  } else if (stop->is_array() && stop->size() <= 4) {
    for (const auto& s : *stop) {
      if (!s.is_string())
        return in.refuse(shape, "stop");
      req.stop.push_back(s.get<std::string>());
    }
  } else {
    return in.refuse(shape, "stop");
  }
  for (const auto& s : req.stop)
    if (s.empty() || s.size() > 256)
      return in.refuse("stop strings must have 1 to 256 bytes", "stop");
  return true;
}

bool read_logit_bias(field_reader& in, complete_request& req) {
  const auto* bias = in.get("logit_bias");
  if (!bias)
    return true;
  if (!bias->is_object() || bias->size() > 1024)
    return in.refuse("logit_bias must map token ids to numbers (1024 at most)", "logit_bias");
  for (const auto& [key, value] : bias->items()) {
    char* end = nullptr;
    const long id = std::strtol(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX || !value.is_number() ||
        value.get<double>() < -100 || value.get<double>() > 100)
      return in.refuse("logit_bias: \"" + key +
                           "\" must be a token id with a bias from -100 to 100",
                       "logit_bias");
    req.bias_tokens.push_back(static_cast<int32_t>(id));
    req.bias_values.push_back(value.get<double>());
  }
  return true;
}

/// logprobs: completions take a count of alternatives (0-5), chat takes true/false plus
/// top_logprobs (0-20).
bool read_logprobs(field_reader& in, bool chat, complete_request& req) {
  double top = 0;
  if (!chat) {
    if (in.get("logprobs") == nullptr) // absent: no log-probabilities (logprobs stays -1)
      return true;
    if (!in.number("logprobs", 0, 5, 0, top))
      return false;
    req.logprobs = static_cast<int32_t>(top);
    return true;
  }
  bool wanted = false;
  if (!in.flag("logprobs", wanted) || !in.number("top_logprobs", 0, 20, 0, top))
    return false;
  if (!wanted && top > 0)
    return in.refuse("top_logprobs needs \"logprobs\": true", "top_logprobs");
  if (wanted)
    req.logprobs = static_cast<int32_t>(top);
  return true;
}

bool read_sampling(field_reader& in, complete_request& req) {
  static thread_local std::mt19937_64 seeds{std::random_device{}()};
  double max_tokens = 0, temperature = 0, top_p = 0, top_k = 0, seed = 0, priority = 0;
  double presence = 0, frequency = 0;
  if (!in.number("max_tokens", 1, 4096, 32, max_tokens) ||
      !in.number("temperature", 0, 10, 1, temperature) || !in.number("top_p", 0, 1, 1, top_p) ||
      !in.number("top_k", 0, 1e6, 0, top_k) ||
      // random when absent
      !in.number("seed", 0, 1e15, static_cast<double>(seeds() >> 14), seed) ||
      !in.number("priority", -1e6, 1e6, 0, priority) ||
      !in.number("presence_penalty", -2, 2, 0, presence) ||
      !in.number("frequency_penalty", -2, 2, 0, frequency))
    return false;
  req.max_tokens = static_cast<uint32_t>(max_tokens);
  req.temperature = temperature;
  req.top_p = top_p;
  req.top_k = static_cast<int64_t>(top_k);
  req.seed = static_cast<uint64_t>(seed);
  req.priority = static_cast<int32_t>(priority);
  req.presence_penalty = presence;
  req.frequency_penalty = frequency;
  return true;
}

} // namespace

uint64_t next_request_number() {
  return next_request++;
}

std::optional<completion_body> parse_completion_body(const nlohmann::json& body, bool chat,
                                                     body_error& err) {
  if (!body.is_object())
    return err = {"the body must be a JSON object", ""}, std::nullopt;
  field_reader in{body, err};
  completion_body out;
  const auto* model = in.get("model");
  if (!model || !model->is_string())
    return in.refuse("\"model\" must name a served language model", "model"), std::nullopt;
  out.model = model->get<std::string>();
  auto& req = out.request;
  if (chat) {
    if (!read_messages(in, req))
      return std::nullopt;
  } else {
    const auto* prompt = in.get("prompt");
    if (!prompt || !prompt->is_string())
      return in.refuse("\"prompt\" must be a string", "prompt"), std::nullopt;
    req.prompt = prompt->get<std::string>();
  }
  if (!read_sampling(in, req) || !read_stop(in, req) || !read_logit_bias(in, req) ||
      !read_logprobs(in, chat, req))
    return std::nullopt;
  const auto* user = in.get("user");
  if (user && !user->is_string())
    return in.refuse("user must be a string", "user"), std::nullopt;
  if (!in.flag("stream", out.stream) || (!chat && !in.flag("echo", out.echo)))
    return std::nullopt;
  const auto* n = in.get("n");
  if (n && (!n->is_number_integer() || n->get<int64_t>() < 1 || n->get<int64_t>() > 16))
    return in.refuse("n must be an integer from 1 to 16", "n"), std::nullopt;
  out.n = n ? n->get<int64_t>() : 1;
  if (out.stream && out.n != 1)
    return in.refuse("n above 1 is not supported with stream", "n"), std::nullopt;
  if (const auto* options = in.get("stream_options"); options && out.stream) {
    if (!options->is_object())
      return in.refuse("stream_options must be an object", "stream_options"), std::nullopt;
    field_reader opts{*options, err};
    if (!opts.flag("include_usage", out.include_usage))
      return err.field = "stream_options.include_usage", std::nullopt;
  }
  req.request = next_request_number();
  return out;
}

} // namespace llmos::http
