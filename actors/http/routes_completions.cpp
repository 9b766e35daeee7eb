// OpenAI-compatible POST /v1/completions and /v1/chat/completions for language models, with
// server-sent events when "stream": true. Tokens reach the worker thread as messages from the
// server's relay and are written as they come; a client that goes away, streaming or not, cancels
// its generation (the replica frees its sequence and KV blocks within a step). Fields: prompt or
// messages, max_tokens, temperature, top_p, top_k, seed, stop (a string or up to 4), n, echo,
// user, stream, stream_options.include_usage, presence_penalty, frequency_penalty, logit_bias,
// logprobs (completions: 0-5 alternatives; chat: logprobs + top_logprobs; streamed too) and
// llmos's own `priority`. A request without a seed gets a random one.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "http/client_connection.hpp"
#include "http/http_errors.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::http {
namespace {

std::atomic<uint64_t> next_completion{1};

/// JSON text of an answer that holds generated text: a byte-level model may emit bytes that are
/// not UTF-8, which nlohmann's dump() refuses by throwing; they become U+FFFD instead.
std::string text_dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// A message's content: a string, or OpenAI's list of parts of which the text ones are joined;
/// nullopt for anything else (images are not for these models).
std::optional<std::string> content_text(const nlohmann::json& content) {
  if (content.is_string())
    return content.get<std::string>();
  if (!content.is_array())
    return std::nullopt;
  std::string out;
  for (const auto& part : content) {
    if (!part.is_object() || part.value("type", nlohmann::json{}) != "text" ||
        !part.value("text", nlohmann::json{}).is_string())
      return std::nullopt;
    out += part["text"].get<std::string>();
  }
  return out;
}

/// The prompt and sampling fields; nullopt after answering 400.
std::optional<complete_request> request_of(const nlohmann::json& body, bool chat,
                                           httplib::Response& res) {
  complete_request req;
  if (chat) {
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
      return send_error(res, 400, "\"messages\" must be a non-empty array", "messages"),
             std::nullopt;
    // The server renders them with its model's chat template (it owns the tokenizer).
    if (body["messages"].size() > 4096)
      return send_error(res, 400, "\"messages\" holds more than 4096 messages", "messages"),
             std::nullopt;
    for (std::size_t i = 0; i < body["messages"].size(); ++i) {
      const auto& m = body["messages"][i];
      const auto at = "messages[" + std::to_string(i) + "]";
      if (!m.is_object())
        return send_error(res, 400, at + " must be an object", at), std::nullopt;
      const auto role = m.value("role", nlohmann::json{});
      if (!role.is_string() || role.get<std::string>().empty())
        return send_error(res, 400, at + ".role must be a string such as \"user\"", at + ".role"),
               std::nullopt;
      auto content = content_text(m.value("content", nlohmann::json{}));
      if (!content)
        return send_error(res, 400,
                          at + ".content must be a string or a list of {\"type\": \"text\", "
                               "\"text\": ...} parts",
                          at + ".content"),
               std::nullopt;
      req.chat.push_back(role.get<std::string>());
      req.chat.push_back(std::move(*content));
    }
  } else {
    if (!body.contains("prompt") || !body["prompt"].is_string())
      return send_error(res, 400, "\"prompt\" must be a string", "prompt"), std::nullopt;
    req.prompt = body["prompt"].get<std::string>();
  }
  auto number = [&](const char* key, double lo, double hi,
                    double fallback) -> std::optional<double> {
    if (!body.contains(key))
      return fallback;
    if (!body[key].is_number() || body[key].get<double>() < lo || body[key].get<double>() > hi) {
      send_error(res, 400,
                 std::string{key} + " must be a number from " + std::to_string(lo) + " to " +
                     std::to_string(hi),
                 key);
      return std::nullopt;
    }
    return body[key].get<double>();
  };
  auto max_tokens = number("max_tokens", 1, 4096, 32);
  auto temperature = number("temperature", 0, 10, 1);
  auto top_p = number("top_p", 0, 1, 1);
  auto top_k = number("top_k", 0, 1e6, 0);
  static thread_local std::mt19937_64 seeds{std::random_device{}()};
  auto seed = number("seed", 0, 1e15, static_cast<double>(seeds() >> 14)); // random when absent
  if (!max_tokens || !temperature || !top_p || !top_k || !seed)
    return std::nullopt;
  req.max_tokens = static_cast<uint32_t>(*max_tokens);
  req.temperature = *temperature;
  req.top_p = *top_p;
  req.top_k = static_cast<int64_t>(*top_k);
  req.seed = static_cast<uint64_t>(*seed);
  req.request = next_completion++;
  if (body.contains("stop") && !body["stop"].is_null()) {
    const auto& stop = body["stop"];
    auto bad = [&res] {
      send_error(res, 400, "stop must be a string or an array of at most 4 non-empty strings",
                 "stop");
    };
    if (stop.is_string()) {
      req.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array() && stop.size() <= 4) {
      for (const auto& s : stop) {
        if (!s.is_string())
          return bad(), std::nullopt;
        req.stop.push_back(s.get<std::string>());
      }
    } else {
      return bad(), std::nullopt;
    }
    for (const auto& s : req.stop)
      if (s.empty() || s.size() > 256)
        return send_error(res, 400, "stop strings must have 1 to 256 bytes", "stop"), std::nullopt;
  }
  auto priority = number("priority", -1e6, 1e6, 0);
  if (!priority)
    return std::nullopt;
  req.priority = static_cast<int32_t>(*priority);
  if (body.contains("user") && !body["user"].is_string())
    return send_error(res, 400, "user must be a string", "user"), std::nullopt;
  auto presence = number("presence_penalty", -2, 2, 0);
  auto frequency = number("frequency_penalty", -2, 2, 0);
  if (!presence || !frequency)
    return std::nullopt;
  req.presence_penalty = *presence;
  req.frequency_penalty = *frequency;
  if (body.contains("logit_bias") && !body["logit_bias"].is_null()) {
    const auto& bias = body["logit_bias"];
    if (!bias.is_object() || bias.size() > 1024)
      return send_error(res, 400, "logit_bias must map token ids to numbers (1024 at most)",
                        "logit_bias"),
             std::nullopt;
    for (const auto& [key, value] : bias.items()) {
      char* end = nullptr;
      const long id = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX || !value.is_number() ||
          value.get<double>() < -100 || value.get<double>() > 100)
        return send_error(res, 400,
                          "logit_bias: \"" + key +
                              "\" must be a token id with a bias from -100 to 100",
                          "logit_bias"),
               std::nullopt;
      req.bias_tokens.push_back(static_cast<int32_t>(id));
      req.bias_values.push_back(value.get<double>());
    }
  }
  // logprobs: completions take a count of alternatives (0-5), chat takes true/false plus
  // top_logprobs (0-20).
  if (chat) {
    if (body.contains("logprobs") && !body["logprobs"].is_null() && !body["logprobs"].is_boolean())
      return send_error(res, 400, "logprobs must be true or false", "logprobs"), std::nullopt;
    auto top = number("top_logprobs", 0, 20, 0);
    if (!top)
      return std::nullopt;
    if (body.value("logprobs", false))
      req.logprobs = static_cast<int32_t>(*top);
    else if (*top > 0)
      return send_error(res, 400, "top_logprobs needs \"logprobs\": true", "top_logprobs"),
             std::nullopt;
  } else if (body.contains("logprobs") && !body["logprobs"].is_null()) {
    auto top = number("logprobs", 0, 5, 0);
    if (!top)
      return std::nullopt;
    req.logprobs = static_cast<int32_t>(*top);
  }
  return req;
}

/// OpenAI's finish_reason: the server's ("stop": end of sequence or a stop sequence, "length":
/// max_tokens or the context); a cancelled generation's client is gone, so it reads "stop".
const char* finish_reason(const complete_reply& r, uint32_t max_tokens) {
  if (r.finish_reason == "length")
    return "length";
  if (r.finish_reason.empty()) // a server of an earlier release
    return r.completion_tokens >= max_tokens ? "length" : "stop";
  return "stop";
}

/// Chat's logprobs shape ({"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]})
/// from the completions shape the server builds.
nlohmann::json chat_logprobs(const nlohmann::json& lp) {
  auto bytes = [](const std::string& s) {
    nlohmann::json b = nlohmann::json::array();
    for (unsigned char c : s)
      b.push_back(c);
    return b;
  };
  nlohmann::json content = nlohmann::json::array();
  const auto& tokens = lp["tokens"];
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto token = tokens[i].get<std::string>();
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [alt, value] : lp["top_logprobs"][i].items())
      top.push_back({{"token", alt}, {"logprob", value}, {"bytes", bytes(alt)}});
    std::sort(top.begin(), top.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return a["logprob"].get<double>() > b["logprob"].get<double>();
    });
    content.push_back({{"token", token},
                       {"logprob", lp["token_logprobs"][i]},
                       {"bytes", bytes(token)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

/// Sends `req` to `server` from an event-based bridge that passes the reply (or the error) on to
/// `client` as a plain message: a blocking actor's receive() waits for one response and parks
/// other messages, so this way tokens and the reply arrive in one receive loop.
void request_via_bridge(caf::actor_system& system, const server_actor& server,
                        const complete_request& req, std::chrono::milliseconds timeout,
                        const caf::actor& client) {
  system.spawn([server, req, timeout, client](caf::event_based_actor* bridge) {
    bridge->request(server, timeout, complete_atom::value, req)
        .then(
            [bridge, client](complete_reply& r) {
              bridge->send(client, std::move(r));
              bridge->quit();
            },
            [bridge, client](caf::error& err) {
              bridge->send(client, std::move(err));
              bridge->quit();
            });
    return caf::behavior{[](tick_atom) {}};
  });
}

/// One non-streamed completion; a client that goes away while it waits has it cancelled (its
/// sequence and KV blocks freed within a step), noticed within a tenth of a second.
caf::expected<complete_reply> complete_watching(gateway_context& ctx, const server_actor& server,
                                                const complete_request& req,
                                                client_connection& client) {
  caf::scoped_actor self{ctx.system};
  request_via_bridge(ctx.system, server, req, ctx.cfg.request_timeout,
                     caf::actor_cast<caf::actor>(self));
  std::optional<caf::expected<complete_reply>> out;
  bool cancelled = false;
  while (!out)
    self->receive([&](complete_reply& r) { out = std::move(r); },
                  [&](caf::error& err) { out = caf::expected<complete_reply>{std::move(err)}; },
                  caf::after(std::chrono::milliseconds(100)) >>
                      [&] {
                        if (!cancelled && client.gone()) {
                          caf::anon_send(server, cancel_atom::value, req.request);
                          cancelled = true;
                        }
                      });
  return std::move(*out);
}

nlohmann::json usage_of(const complete_reply& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

nlohmann::json chunk(const std::string& id, const std::string& model, bool chat,
                     const std::string& text, const char* finish, int index = 0) {
  nlohmann::json choice{{"index", index}};
  if (chat)
    choice["delta"] = {{"content", text}};
  else
    choice["text"] = text;
  choice["finish_reason"] = finish ? nlohmann::json(finish) : nlohmann::json(nullptr);
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", std::time(nullptr)},
          {"model", model},
          {"choices", nlohmann::json::array({choice})}};
}

void complete(gateway_context& ctx, const httplib::Request& http, httplib::Response& res,
              bool chat) {
  auto body = json_body(http, res);
  if (!body)
    return;
  if (!body->contains("model") || !(*body)["model"].is_string())
    return send_error(res, 400, "\"model\" must name a served language model", "model");
  const auto model = (*body)["model"].get<std::string>();
  auto req = request_of(*body, chat, res);
  if (!req)
    return;
  if (body->contains("stream") && !(*body)["stream"].is_boolean())
    return send_error(res, 400, "stream must be true or false", "stream");
  const bool stream = body->value("stream", false);
  auto n = body->contains("n") ? (*body)["n"] : nlohmann::json(1);
  if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 16)
    return send_error(res, 400, "n must be an integer from 1 to 16", "n");
  if (stream && n.get<int64_t>() != 1)
    return send_error(res, 400, "n above 1 is not supported with stream", "n");
  const auto echo = !chat && body->value("echo", false);
  const auto include_usage = stream && body->contains("stream_options") &&
                             (*body)["stream_options"].is_object() &&
                             (*body)["stream_options"].value("include_usage", false);
  auto choice = ctx.servers.pick(model);
  if (!choice) {
    (void)ctx.entries();
    choice = ctx.servers.pick(model);
  }
  if (!choice)
    return send_error(res, 404, "no server serves model '" + model + "'", "model");
  // The OpenAI id is also the request id feedback names: unique across gateway restarts.
  static const std::string instance = [] {
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return std::string{buf};
  }();
  const std::string id =
      (chat ? "chatcmpl-" : "cmpl-") + instance + "-" + std::to_string(req->request);
  req->request_id = id;
  req->model = model; // the server's model or one of its adapters
  if (!stream) {
    // n choices: n requests with seeds seed, seed+1, ... (the same text for greedy decoding).
    std::vector<complete_reply> replies;
    client_connection client{http.remote_addr, http.remote_port, http.local_port};
    for (int64_t i = 0; i < n.get<int64_t>(); ++i) {
      // Nobody to answer (a client that gave up while its request waited for a worker thread,
      // or during an earlier choice): nothing more is started.
      if (client.gone()) {
        ctx.servers.done(model, choice->slot);
        return;
      }
      auto one = *req;
      one.seed = req->seed + static_cast<uint64_t>(i);
      if (i > 0)
        one.request = next_completion++;
      auto reply = complete_watching(ctx, choice->server, one, client);
      if (!reply) {
        ctx.servers.done(model, choice->slot);
        return send_error(res, reply.error());
      }
      replies.push_back(std::move(*reply));
    }
    ctx.servers.done(model, choice->slot);
    auto out = chunk(id, model, chat, "", nullptr);
    out["object"] = chat ? "chat.completion" : "text_completion";
    out["choices"] = nlohmann::json::array();
    uint32_t completion_tokens = 0;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      const auto& r = replies[i];
      nlohmann::json c{{"index", i}, {"finish_reason", finish_reason(r, req->max_tokens)}};
      auto lp = r.logprobs.empty() ? nlohmann::json(nullptr)
                                   : nlohmann::json::parse(r.logprobs, nullptr, false);
      if (chat) {
        c["message"] = {{"role", "assistant"}, {"content", r.text}};
        c["logprobs"] = lp.is_object() ? chat_logprobs(lp) : nlohmann::json(nullptr);
      } else {
        c["text"] = echo ? req->prompt + r.text : r.text;
        c["logprobs"] = lp.is_object() ? lp : nlohmann::json(nullptr);
      }
      out["choices"].push_back(c);
      completion_tokens += r.completion_tokens;
    }
    out["version"] = replies[0].version; // which registry version answered (feedback analysis)
    out["usage"] = {{"prompt_tokens", replies[0].prompt_tokens},
                    {"completion_tokens", completion_tokens},
                    {"total_tokens", replies[0].prompt_tokens + completion_tokens}};
    return res.set_content(text_dump(out), "application/json");
  }
  res.set_header("Cache-Control", "no-cache");
  auto server = choice->server;
  auto slot = choice->slot;
  res.set_chunked_content_provider(
      "text/event-stream", [&ctx, server, slot, model, id, chat, echo, include_usage,
                            req = *req](std::size_t, httplib::DataSink& sink) mutable {
        caf::scoped_actor self{ctx.system};
        req.subscriber = caf::actor_cast<caf::actor>(self);
        request_via_bridge(ctx.system, server, req, ctx.cfg.request_timeout * 10, req.subscriber);
        auto write = [&](const nlohmann::json& j) {
          auto line = "data: " + text_dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        bool running = true;
        // The client went away: its generation is cancelled (blocks and slot freed within a
        // step); the reply still comes and ends the bridge.
        auto gone = [&] {
          caf::anon_send(server, cancel_atom::value, req.request);
          running = false;
        };
        if (chat) // OpenAI's first chunk names the role
          write([&] {
            auto first = chunk(id, model, chat, "", nullptr);
            first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
            return first;
          }());
        if (echo && !write(chunk(id, model, chat, req.prompt, nullptr)))
          gone();
        while (running)
          self->receive(
              [&](token_atom, uint64_t, const std::string& piece) {
                if (!write(chunk(id, model, chat, piece, nullptr)))
                  gone();
              },
              // With logprobs: those of the tokens this piece holds, in each answer's shape.
              [&](token_atom, uint64_t, const std::string& piece, const std::string& lp) {
                auto c = chunk(id, model, chat, piece, nullptr);
                auto parsed = nlohmann::json::parse(lp, nullptr, false);
                c["choices"][0]["logprobs"] = !parsed.is_object() ? nlohmann::json(nullptr)
                                              : chat              ? chat_logprobs(parsed)
                                                                  : parsed;
                if (!write(c))
                  gone();
              },
              [&](complete_reply& r) {
                write(chunk(id, model, chat, "", finish_reason(r, req.max_tokens)));
                if (include_usage) {
                  auto last = chunk(id, model, chat, "", nullptr);
                  last["choices"] = nlohmann::json::array();
                  last["usage"] = usage_of(r);
                  write(last);
                }
                running = false;
              },
              [&](caf::error& err) {
                write(nlohmann::json::parse(error_body(err)));
                running = false;
              },
              caf::after(ctx.cfg.request_timeout) >> [&] { gone(); });
        ctx.servers.done(model, slot);
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
      });
}

} // namespace

void install_completion_routes(httplib::Server& server, gateway_context& ctx) {
  server.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    complete(ctx, req, res, false);
  });
  server.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    complete(ctx, req, res, true);
  });
}

} // namespace llmos::http
