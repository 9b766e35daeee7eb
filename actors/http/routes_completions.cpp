// OpenAI-compatible POST /v1/completions and /v1/chat/completions for language models, with
// server-sent events when "stream": true. Tokens reach the worker thread as messages from the
// server's relay and are written as they come.
#include <atomic>
#include <cstdio>
#include <ctime>
#include <random>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "http/http_errors.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::http {
namespace {

std::atomic<uint64_t> next_completion{1};

/// The prompt and sampling fields; nullopt after answering 400.
std::optional<complete_request> request_of(const nlohmann::json& body, bool chat,
                                           httplib::Response& res) {
  complete_request req;
  if (chat) {
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
      return send_error(res, 400, "\"messages\" must be a non-empty array", "messages"),
             std::nullopt;
    // A plain-text language model has no chat template: contents joined by newlines.
    for (std::size_t i = 0; i < body["messages"].size(); ++i) {
      const auto& m = body["messages"][i];
      if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
        return send_error(res, 400, "messages[" + std::to_string(i) + "].content must be a string",
                          "messages[" + std::to_string(i) + "].content"),
               std::nullopt;
      req.prompt += (i ? "\n" : "") + m["content"].get<std::string>();
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
  auto seed = number("seed", 0, 1e15, 1);
  if (!max_tokens || !temperature || !top_p || !top_k || !seed)
    return std::nullopt;
  req.max_tokens = static_cast<uint32_t>(*max_tokens);
  req.temperature = *temperature;
  req.top_p = *top_p;
  req.top_k = static_cast<int64_t>(*top_k);
  req.seed = static_cast<uint64_t>(*seed);
  req.request = next_completion++;
  return req;
}

/// OpenAI's finish_reason: "length" when the completion used all of max_tokens, "stop" otherwise
/// (the model said EOS; a generation cut by the end of the context also reads as "stop" until
/// replies carry the engine's own reason).
const char* finish_reason(const complete_reply& r, uint32_t max_tokens) {
  return r.completion_tokens >= max_tokens ? "length" : "stop";
}

nlohmann::json chunk(const std::string& id, const std::string& model, bool chat,
                     const std::string& text, const char* finish) {
  nlohmann::json choice{{"index", 0}};
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
  const bool stream = body->value("stream", false);
  if (!stream) {
    auto reply = ctx.ask<complete_reply>(choice->server, complete_atom::value, *req);
    ctx.servers.done(model, choice->slot);
    if (!reply)
      return send_error(res, reply.error());
    auto out = chunk(id, model, chat, reply->text, finish_reason(*reply, req->max_tokens));
    out["object"] = chat ? "chat.completion" : "text_completion";
    if (chat)
      out["choices"][0].erase("delta"),
          out["choices"][0]["message"] = {{"role", "assistant"}, {"content", reply->text}};
    out["version"] = reply->version; // which registry version answered (for feedback analysis)
    out["usage"] = {{"prompt_tokens", reply->prompt_tokens},
                    {"completion_tokens", reply->completion_tokens},
                    {"total_tokens", reply->prompt_tokens + reply->completion_tokens}};
    return res.set_content(out.dump(), "application/json");
  }
  res.set_header("Cache-Control", "no-cache");
  auto server = choice->server;
  auto slot = choice->slot;
  res.set_chunked_content_provider(
      "text/event-stream", [&ctx, server, slot, model, id, chat,
                            req = *req](std::size_t, httplib::DataSink& sink) mutable {
        caf::scoped_actor self{ctx.system};
        req.subscriber = caf::actor_cast<caf::actor>(self);
        // A blocking actor's receive() waits for one response and parks other messages, so an
        // event-based bridge makes the request and passes the reply on as a plain message,
        // letting tokens and the reply arrive in one receive loop.
        auto timeout = ctx.cfg.request_timeout * 10;
        ctx.system.spawn(
            [server, req, timeout, client = req.subscriber](caf::event_based_actor* bridge) {
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
        auto write = [&](const nlohmann::json& j) {
          auto line = "data: " + j.dump() + "\n\n";
          return sink.write(line.data(), line.size());
        };
        bool running = true;
        while (running)
          self->receive(
              [&](token_atom, uint64_t, const std::string& piece) {
                if (!write(chunk(id, model, chat, piece, nullptr)))
                  running = false; // the client went away; the server finishes on its own
              },
              [&](complete_reply& r) {
                write(chunk(id, model, chat, "", finish_reason(r, req.max_tokens)));
                running = false;
              },
              [&](caf::error& err) {
                write(nlohmann::json::parse(error_body(err)));
                running = false;
              },
              caf::after(ctx.cfg.request_timeout) >> [&] { running = false; });
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
