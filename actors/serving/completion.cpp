// Completions on a language server: the prompt tokenized and cut to the context, a relay that
// turns a replica's tokens into text pieces (stop sequences, timings, log-probabilities), the
// reply with its finish_reason, and cancel, priority and the list of generations, each routed to
// the replica that holds the request.
#include "serving/deployment.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/error.hpp"
#include "serving/completion_logprobs.hpp"
#include "serving/core/stop_text.hpp"
#include "serving/request_log.hpp"

namespace llmos::serving {
namespace {

constexpr auto generate_timeout = std::chrono::minutes(5);

} // namespace

caf::result<complete_reply> complete(server_self self, complete_request& req) {
  auto& st = self->state;
  if (!st.current)
    return make_llmos_error(error_code::unavailable,
                            "model '" + st.model + "' has no version deployed yet");
  if (!st.current->language)
    return make_llmos_error(error_code::bad_params,
                            "model '" + st.model + "' is a classifier: use predict");
  // The server's model, or a fine-tune served as adapters over it.
  std::string adapter;
  if (!req.model.empty() && req.model != st.model) {
    const auto& served = st.current->adapters;
    if (std::none_of(served.begin(), served.end(),
                     [&](const served_adapter& a) { return a.name == req.model; })) {
      std::string names;
      for (const auto& a : served)
        names += ", '" + a.name + "'";
      return make_llmos_error(error_code::not_found, "server '" + st.cfg.name + "' serves '" +
                                                         st.model + "'" + names + ", not '" +
                                                         req.model + "'");
    }
    adapter = req.model;
  }
  auto rid = pick_replica(st, 0);
  if (!rid)
    return make_llmos_error(error_code::unavailable,
                            "model '" + st.model + "' has no replica taking requests");
  auto& rep = st.replicas.at(*rid);
  auto dep = rep.dep;
  if (!dep->tok)
    return make_llmos_error(error_code::bad_config,
                            "model '" + st.model + "' was published without a tokenizer");
  std::vector<int32_t> prompt;
  if (!req.chat.empty()) {
    if (req.chat.size() % 2 != 0)
      return make_llmos_error(error_code::bad_params,
                              "chat: messages come as role, content pairs; got " +
                                  std::to_string(req.chat.size()) + " strings");
    std::vector<chat_message> messages;
    for (std::size_t i = 0; i + 1 < req.chat.size(); i += 2)
      messages.push_back({req.chat[i], req.chat[i + 1]});
    // The template's markers ("</s>", "<|im_start|>") are the model's special pieces, not text.
    req.prompt = render_chat(dep->chat, messages);
    prompt = dep->chat.format == chat_format::plain ? dep->tok->encode(req.prompt)
                                                    : dep->tok->encode_with_specials(req.prompt);
  } else {
    prompt = dep->tok->encode(req.prompt);
  }
  // The context holds BOS, the prompt and what is generated: max_tokens is cut to what fits.
  // (Llama contexts are fixed; the GPT path keeps its own window over longer texts.)
  const int64_t context = dep->spec.architecture == "llama" ? dep->spec.max_length : 0;
  const auto prompt_positions = static_cast<int64_t>(prompt.size()) + 1;
  if (context > 0 && prompt_positions >= context)
    return make_llmos_error(error_code::bad_params, "prompt: " + std::to_string(prompt.size()) +
                                                        " tokens leave no room in the context of " +
                                                        std::to_string(context) +
                                                        " tokens of model '" + st.model + "'");
  uint32_t max_tokens = req.max_tokens;
  if (context > 0)
    max_tokens = static_cast<uint32_t>(std::min<int64_t>(max_tokens, context - prompt_positions));
  if (req.request == 0) // requests that name no number get one (RPC callers)
    req.request = (uint64_t{1} << 63) | st.next_id++;
  if (st.completions.count(req.request))
    return make_llmos_error(error_code::bad_params,
                            "request number " + std::to_string(req.request) +
                                " is already generating on server '" + st.cfg.name + "'");
  // Pieces are decoded from all ids so far so that multi-byte characters are never split; a
  // tail that may still become a stop sequence waits for the next token, and a stop sequence
  // cancels the generation. The relay is asked to flush before the reply goes out: the model's
  // token messages reach it on their own path, and the client must see every piece before the
  // end.
  // Weak: the relay must not keep its server alive.
  auto server = caf::actor_cast<caf::actor_addr>(self);
  // Token times, written by the relay and read by the server once the relay has flushed.
  struct token_times {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last;
    std::optional<double> first_s;
    std::vector<double> gaps_s;
  };
  auto times = std::make_shared<token_times>();
  // Each token's log-probabilities (JSON from the model), when asked; read like `times`.
  auto logprobs = std::make_shared<std::vector<std::string>>();
  auto relay = self->system().spawn([dep, prompt, client = req.subscriber, id = req.request,
                                     stops = req.stop, server, times, logprobs,
                                     want_logprobs =
                                         req.logprobs >= 0](caf::event_based_actor* relay_self) {
    auto ids = std::make_shared<std::vector<int32_t>>();
    auto sent = std::make_shared<std::size_t>(0);
    auto stopped = std::make_shared<bool>(false);
    auto emit = [=](bool all) {
      if (*stopped)
        return;
      auto text = continuation_text(*dep->tok, prompt, *ids);
      if (!text)
        return;
      auto upto = all ? text->size() : complete_utf8_prefix(*text);
      if (!stops.empty()) {
        auto scan = scan_stops(*text, stops);
        upto = all && !scan.stopped_at ? text->size() : std::min(upto, scan.safe);
        if (scan.stopped_at) {
          *stopped = true;
          if (auto srv = caf::actor_cast<server_actor>(server))
            caf::anon_send(srv, cancel_atom::value, id);
        }
      }
      if (client && upto > *sent) {
        if (want_logprobs) // the piece's tokens' log-probabilities ride along (streamed answers)
          relay_self->send(client, token_atom::value, id, text->substr(*sent, upto - *sent),
                           openai_logprobs(*dep->tok, prompt, *logprobs, *sent, upto));
        else
          relay_self->send(client, token_atom::value, id, text->substr(*sent, upto - *sent));
        *sent = upto;
      }
    };
    return caf::behavior{
        [=](token_atom, uint64_t, int32_t t) {
          const auto now = std::chrono::steady_clock::now();
          if (!times->first_s)
            times->first_s = std::chrono::duration<double>(now - times->start).count();
          else if (times->gaps_s.size() < 65536)
            times->gaps_s.push_back(std::chrono::duration<double>(now - times->last).count());
          times->last = now;
          ids->push_back(t);
          emit(false);
        },
        [=](logprob_atom, uint64_t, std::string& json) {
          if (logprobs->size() < 65536)
            logprobs->push_back(std::move(json));
        },
        [=](tick_atom) {
          emit(true);
          relay_self->quit();
          return true;
        },
    };
  });
  generate_request g;
  g.prompt = prompt;
  g.max_tokens = max_tokens;
  g.temperature = req.temperature;
  g.top_k = req.top_k;
  g.top_p = req.top_p;
  g.seed = req.seed;
  g.request = req.request;
  g.subscriber = relay;
  g.priority = req.priority;
  g.presence_penalty = req.presence_penalty;
  g.frequency_penalty = req.frequency_penalty;
  g.bias_tokens = req.bias_tokens;
  g.bias_values = req.bias_values;
  g.logprobs = std::min(req.logprobs, 20);
  g.adapter = adapter;
  const auto request_id = request_id_of(st, req.request_id, st.next_id++);
  const auto logged = sampled(st);
  st.router.sent(*rid);
  auto promise = self->make_response_promise<complete_reply>();
  st.completions[req.request] = {*rid, rep.model, false, promise};
  const auto rid_v = *rid;
  const auto prompt_tokens = static_cast<uint32_t>(prompt.size());
  self->request(rep.model, generate_timeout, generate_atom::value, std::move(g))
      .then(
          [self, promise, relay, dep, rid_v, prompt_tokens, request_id, logged, prompt, max_tokens,
           number = req.request, stops = req.stop, times, logprobs, want_logprobs = req.logprobs,
           prompt_text = req.prompt, adapter](std::vector<int32_t>& out) mutable {
            auto& st = self->state;
            st.router.done(rid_v);
            bool cancelled = false;
            if (auto c = st.completions.find(number); c != st.completions.end()) {
              cancelled = c->second.cancelled;
              st.completions.erase(c);
            }
            complete_reply r;
            r.model = adapter.empty() ? st.model : adapter;
            r.version = dep->version;
            r.prompt_tokens = prompt_tokens;
            r.completion_tokens = static_cast<uint32_t>(out.size());
            auto text = continuation_text(*dep->tok, prompt, out);
            r.text = text ? *text : "";
            auto scan = scan_stops(r.text, stops);
            if (scan.stopped_at) {
              r.text.resize(*scan.stopped_at);
              r.finish_reason = "stop";
            } else if (out.size() >= max_tokens) {
              r.finish_reason = "length";
            } else if (cancelled) {
              r.finish_reason = "cancelled";
            } else if (dep->spec.architecture == "llama" &&
                       static_cast<int64_t>(prompt.size() + out.size()) + 1 >=
                           dep->spec.max_length) {
              r.finish_reason = "length"; // the context is full
            } else {
              r.finish_reason = "stop"; // the model said end of sequence
            }
            r.request_id = request_id;
            if (logged)
              log_completion(self, r, prompt_text);
            ++st.served;
            st.metrics->ok.Increment();
            retire_idle(st);
            st.metrics->prompt_tokens.Increment(prompt_tokens);
            st.metrics->generated_tokens.Increment(static_cast<double>(out.size()));
            auto answer = [self, promise, r, times, logprobs, want_logprobs, dep,
                           prompt](auto&&...) mutable {
              // The relay has handled every token by now (it answered the flush).
              if (want_logprobs >= 0)
                r.logprobs = openai_logprobs(*dep->tok, prompt, *logprobs, r.text.size());
              auto& m = *self->state.metrics;
              if (times->first_s)
                m.ttft.Observe(*times->first_s);
              for (double g : times->gaps_s)
                m.itl.Observe(g);
              m.e2e.Observe(
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - times->start)
                      .count());
              promise.deliver(std::move(r));
            };
            self->request(relay, std::chrono::seconds(10), tick_atom::value)
                .then([answer](bool) mutable { answer(); },
                      [answer](caf::error&) mutable { answer(); });
          },
          [self, promise, relay, rid_v, number = req.request](caf::error& err) mutable {
            self->state.router.done(rid_v);
            self->state.completions.erase(number);
            self->send_exit(relay, caf::exit_reason::user_shutdown);
            ++self->state.failed;
            self->state.metrics->failed.Increment();
            promise.deliver(err);
          });
  return promise;
}

bool cancel_completion(server_self self, uint64_t request) {
  auto it = self->state.completions.find(request);
  if (it == self->state.completions.end() || it->second.cancelled)
    return false;
  it->second.cancelled = true;
  // The model answers the generate with the tokens so far; the reply then goes out as usual.
  caf::anon_send(it->second.model, cancel_atom::value, request);
  return true;
}

bool prioritise_completion(server_self self, uint64_t request, int32_t priority) {
  auto it = self->state.completions.find(request);
  if (it == self->state.completions.end())
    return false;
  caf::anon_send(it->second.model, priority_atom::value, request, priority);
  return true;
}

caf::result<std::vector<sequence_row>> list_sequences(server_self self) {
  auto promise = self->make_response_promise<std::vector<sequence_row>>();
  struct gather {
    std::vector<sequence_row> rows;
    std::size_t left = 0;
  };
  auto g = std::make_shared<gather>();
  std::vector<std::pair<std::string, model_actor>> language;
  for (auto& [id, r] : self->state.replicas)
    if (r.dep && r.dep->language)
      language.emplace_back("v" + std::to_string(r.version) + ".r" + std::to_string(id), r.model);
  g->left = language.size();
  if (g->left == 0) {
    promise.deliver(std::vector<sequence_row>{});
    return promise;
  }
  for (auto& [name, model] : language)
    self->request(model, std::chrono::seconds(10), sequences_atom::value)
        .then(
            [g, promise, name = name](std::vector<sequence_row>& rows) mutable {
              for (auto& r : rows) {
                r.replica = name;
                g->rows.push_back(std::move(r));
              }
              if (--g->left == 0)
                promise.deliver(std::move(g->rows));
            },
            [g, promise](caf::error&) mutable { // a replica gone meanwhile lists nothing
              if (--g->left == 0)
                promise.deliver(std::move(g->rows));
            });
  return promise;
}

} // namespace llmos::serving
