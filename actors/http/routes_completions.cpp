// OpenAI-compatible POST /v1/completions and /v1/chat/completions for language models, with
// server-sent events when "stream": true. Tokens reach the worker thread as messages from the
// server's relay and are written as they come; a client that goes away, streaming or not, cancels
// its generation (the replica frees its sequence and KV blocks within a step). Fields: prompt or
// messages, max_tokens, temperature, top_p, top_k, seed, stop (a string or up to 4), n, echo,
// user, stream, stream_options.include_usage, presence_penalty, frequency_penalty, logit_bias,
// logprobs (completions: 0-5 alternatives; chat: logprobs + top_logprobs; streamed too) and
// llmos's own `priority`. A request without a seed gets a random one.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "http/client_connection.hpp"
#include "http/completion_body.hpp"
#include "http/front_door.hpp"
#include "http/http_errors.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::http {
namespace {

/// JSON text of an answer that holds generated text: a byte-level model may emit bytes that are
/// not UTF-8, which nlohmann's dump() refuses by throwing; they become U+FFFD instead.
std::string text_dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

/// One completion request on its way: the parsed body, its OpenAI id and the server chosen.
struct completion_call {
  completion_body body;
  std::string id;
  bool chat = false;
  server_table::choice choice;
};

/// The OpenAI id, also the request id feedback names: unique across gateway restarts.
std::string completion_id(bool chat, uint64_t request) {
  static const std::string instance = [] {
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return std::string{buf};
  }();
  return (chat ? "chatcmpl-" : "cmpl-") + instance + "-" + std::to_string(request);
}

/// The answer of a non-streamed request from its n replies.
nlohmann::json whole_answer(const completion_call& call,
                            const std::vector<complete_reply>& replies) {
  const auto& req = call.body.request;
  auto out = chunk(call.id, call.body.model, call.chat, "", nullptr);
  out["object"] = call.chat ? "chat.completion" : "text_completion";
  out["choices"] = nlohmann::json::array();
  uint32_t completion_tokens = 0;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const auto& r = replies[i];
    nlohmann::json c{{"index", i}, {"finish_reason", finish_reason(r, req.max_tokens)}};
    auto lp = r.logprobs.empty() ? nlohmann::json(nullptr)
                                 : nlohmann::json::parse(r.logprobs, nullptr, false);
    if (call.chat) {
      c["message"] = {{"role", "assistant"}, {"content", r.text}};
      c["logprobs"] = lp.is_object() ? chat_logprobs(lp) : nlohmann::json(nullptr);
    } else {
      c["text"] = call.body.echo ? req.prompt + r.text : r.text;
      c["logprobs"] = lp.is_object() ? lp : nlohmann::json(nullptr);
    }
    out["choices"].push_back(c);
    completion_tokens += r.completion_tokens;
  }
  out["version"] = replies[0].version; // which registry version answered (feedback analysis)
  out["usage"] = {{"prompt_tokens", replies[0].prompt_tokens},
                  {"completion_tokens", completion_tokens},
                  {"total_tokens", replies[0].prompt_tokens + completion_tokens}};
  return out;
}

/// n choices: n requests with seeds seed, seed+1, ... (the same text for greedy decoding).
void answer_whole(gateway_context& ctx, httplib::Response& res, const completion_call& call) {
  const auto& req = call.body.request;
  std::vector<complete_reply> replies;
  client_connection client{guarded_server::current_socket()};
  for (int64_t i = 0; i < call.body.n; ++i) {
    // Nobody to answer (a client that gave up while its request waited for a worker thread, or
    // during an earlier choice): nothing more is started.
    if (client.gone()) {
      ctx.servers.done(call.body.model, call.choice.slot);
      return;
    }
    auto one = req;
    one.seed = req.seed + static_cast<uint64_t>(i);
    if (i > 0)
      one.request = next_request_number();
    auto reply = complete_watching(ctx, call.choice.server, one, client);
    if (!reply) {
      ctx.servers.done(call.body.model, call.choice.slot);
      return send_error(res, reply.error());
    }
    replies.push_back(std::move(*reply));
  }
  ctx.servers.done(call.body.model, call.choice.slot);
  send_json(res, whole_answer(call, replies));
}

/// A streamed completion on its worker thread: the server's pieces become server-sent events
/// as they come, then the finish chunk (and usage, when asked) and [DONE].
class completion_stream {
public:
  completion_stream(gateway_context& ctx, const completion_call& call, httplib::DataSink& sink)
      : ctx_(ctx), call_(call), sink_(sink) {}

  void run() {
    caf::scoped_actor self{ctx_.system};
    auto req = call_.body.request;
    req.subscriber = caf::actor_cast<caf::actor>(self);
    request_via_bridge(ctx_.system, call_.choice.server, req, ctx_.cfg.request_timeout * 10,
                       req.subscriber);
    if (call_.chat) { // OpenAI's first chunk names the role
      auto first = chunk_of("", nullptr);
      first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
      write(first);
    }
    if (call_.body.echo && !write(chunk_of(req.prompt, nullptr)))
      gone();
    while (running_)
      self->receive(
          [&](token_atom, uint64_t, const std::string& piece) {
            if (!write(chunk_of(piece, nullptr)))
              gone();
          },
          [&](token_atom, uint64_t, const std::string& piece, const std::string& lp) {
            if (!write(piece_with_logprobs(piece, lp)))
              gone();
          },
          [&](complete_reply& r) { finished(r); },
          [&](caf::error& err) {
            write(nlohmann::json::parse(error_body(err)));
            running_ = false;
          },
          caf::after(ctx_.cfg.request_timeout) >> [&] { gone(); });
    ctx_.servers.done(call_.body.model, call_.choice.slot);
    const std::string done = "data: [DONE]\n\n";
    sink_.write(done.data(), done.size());
    sink_.done();
  }

private:
  nlohmann::json chunk_of(const std::string& text, const char* finish) const {
    return chunk(call_.id, call_.body.model, call_.chat, text, finish);
  }

  bool write(const nlohmann::json& j) {
    auto line = "data: " + text_dump(j) + "\n\n";
    return sink_.write(line.data(), line.size());
  }

  /// The client went away: its generation is cancelled (blocks and slot freed within a step);
  /// the reply still comes and ends the bridge.
  void gone() {
    caf::anon_send(call_.choice.server, cancel_atom::value, call_.body.request.request);
    running_ = false;
  }

  /// With logprobs: those of the tokens this piece holds, in each answer's shape.
  nlohmann::json piece_with_logprobs(const std::string& piece, const std::string& lp) const {
    auto c = chunk_of(piece, nullptr);
    auto parsed = nlohmann::json::parse(lp, nullptr, false);
    c["choices"][0]["logprobs"] = !parsed.is_object() ? nlohmann::json(nullptr)
                                  : call_.chat        ? chat_logprobs(parsed)
                                                      : parsed;
    return c;
  }

  void finished(const complete_reply& r) {
    write(chunk_of("", finish_reason(r, call_.body.request.max_tokens)));
    if (call_.body.include_usage) {
      auto last = chunk_of("", nullptr);
      last["choices"] = nlohmann::json::array();
      last["usage"] = usage_of(r);
      write(last);
    }
    running_ = false;
  }

  gateway_context& ctx_;
  const completion_call& call_;
  httplib::DataSink& sink_;
  bool running_ = true;
};

void complete(gateway_context& ctx, const httplib::Request& http, httplib::Response& res,
              bool chat) {
  auto body = json_body(http, res);
  if (!body)
    return;
  body_error refused;
  auto parsed = parse_completion_body(*body, chat, refused);
  if (!parsed)
    return send_error(res, 400, refused.message, refused.field);
  const auto& model = parsed->model;
  auto choice = ctx.servers.pick(model);
  if (!choice) {
    (void)ctx.entries();
    choice = ctx.servers.pick(model);
  }
  if (!choice)
    return send_error(res, 404, "no server serves model '" + model + "'", "model");
  auto call = std::make_shared<completion_call>();
  call->id = completion_id(chat, parsed->request.request);
  call->chat = chat;
  call->choice = *choice;
  call->body = std::move(*parsed);
  call->body.request.request_id = call->id;
  call->body.request.model = call->body.model; // the server's model or one of its adapters
  if (!call->body.stream)
    return answer_whole(ctx, res, *call);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream",
                                   [&ctx, call](std::size_t, httplib::DataSink& sink) {
                                     completion_stream{ctx, *call, sink}.run();
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
