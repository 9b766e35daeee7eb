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
#include "serving/completion_relay.hpp"
#include "serving/core/stop_text.hpp"
#include "serving/request_log.hpp"

namespace llmos::serving {
namespace {

constexpr auto generate_timeout = std::chrono::minutes(5);

/// "" for the server's own model, else the fine-tune (served as adapters) the request names.
caf::expected<std::string> adapter_for(const server_state& st, const complete_request& req) {
  if (req.model.empty() || req.model == st.model)
    return std::string{};
  const auto& served = st.current->adapters;
  if (std::any_of(served.begin(), served.end(),
                  [&](const served_adapter& a) { return a.name == req.model; }))
    return req.model;
  std::string names;
  for (const auto& a : served)
    names += ", '" + a.name + "'";
  return make_llmos_error(error_code::not_found, "server '" + st.cfg.name + "' serves '" +
                                                     st.model + "'" + names + ", not '" +
                                                     req.model + "'");
}

/// The prompt's tokens; chat messages are rendered with the model's template first (into
/// req.prompt, which the request log keeps).
caf::expected<std::vector<int32_t>> tokenize(const deployed_version& dep, complete_request& req) {
  if (req.chat.empty())
    return dep.tok->encode(req.prompt);
  if (req.chat.size() % 2 != 0)
    return make_llmos_error(error_code::bad_params,
                            "chat: messages come as role, content pairs; got " +
                                std::to_string(req.chat.size()) + " strings");
  std::vector<chat_message> messages;
  for (std::size_t i = 0; i + 1 < req.chat.size(); i += 2)
    messages.push_back({req.chat[i], req.chat[i + 1]});
  // The template's markers ("</s>", "<|im_start|>") are the model's special pieces, not text.
  req.prompt = render_chat(dep.chat, messages);
  return dep.chat.format == chat_format::plain ? dep.tok->encode(req.prompt)
                                               : dep.tok->encode_with_specials(req.prompt);
}

/// The context holds BOS, the prompt and what is generated: max_tokens cut to what fits.
/// (Llama contexts are fixed; the GPT path keeps its own window over longer texts.)
caf::expected<uint32_t> fit_to_context(const server_state& st, const deployed_version& dep,
                                       std::size_t prompt_size, uint32_t max_tokens) {
  const int64_t context = dep.spec.architecture == "llama" ? dep.spec.max_length : 0;
  if (context == 0)
    return max_tokens;
  const auto positions = static_cast<int64_t>(prompt_size) + 1;
  if (positions >= context)
    return make_llmos_error(error_code::bad_params, "prompt: " + std::to_string(prompt_size) +
                                                        " tokens leave no room in the context of " +
                                                        std::to_string(context) +
                                                        " tokens of model '" + st.model + "'");
  return static_cast<uint32_t>(std::min<int64_t>(max_tokens, context - positions));
}

/// The replica's part of the request.
generate_request make_generate(const complete_request& req, std::vector<int32_t> prompt,
                               uint32_t max_tokens, caf::actor relay, std::string adapter) {
  generate_request g;
  g.prompt = std::move(prompt);
  g.max_tokens = max_tokens;
  g.temperature = req.temperature;
  g.top_k = req.top_k;
  g.top_p = req.top_p;
  g.seed = req.seed;
  g.request = req.request;
  g.subscriber = std::move(relay);
  g.priority = req.priority;
  g.presence_penalty = req.presence_penalty;
  g.frequency_penalty = req.frequency_penalty;
  g.bias_tokens = req.bias_tokens;
  g.bias_values = req.bias_values;
  g.logprobs = std::min(req.logprobs, 20);
  g.adapter = std::move(adapter);
  return g;
}

/// One completion from its start on a replica to its reply.
struct completion_job {
  std::shared_ptr<const deployed_version> dep;
  std::size_t replica = 0;
  std::vector<int32_t> prompt;
  uint32_t max_tokens = 0;
  uint64_t number = 0; ///< the request number (cancel, priority)
  std::string request_id;
  bool logged = false;
  std::vector<std::string> stops;
  int32_t want_logprobs = -1;
  std::string prompt_text;
  std::string adapter;
  caf::actor relay;
  std::shared_ptr<relay_record> record;
  caf::typed_response_promise<complete_reply> promise;
};

/// Why the generation ended: "stop" (a stop sequence or the model's end of sequence),
/// "length" (max_tokens or a full context) or "cancelled".
std::string finish_reason(const completion_job& job, std::size_t generated, bool stopped,
                          bool cancelled) {
  if (stopped)
    return "stop";
  if (generated >= job.max_tokens)
    return "length";
  if (cancelled)
    return "cancelled";
  const auto& spec = job.dep->spec;
  if (spec.architecture == "llama" &&
      static_cast<int64_t>(job.prompt.size() + generated) + 1 >= spec.max_length)
    return "length"; // the context is full
  return "stop";     // the model said end of sequence
}

/// The reply from the replica's tokens; the completion leaves the server's books.
complete_reply make_reply(server_state& st, const completion_job& job,
                          const std::vector<int32_t>& out) {
  bool cancelled = false;
  if (auto c = st.completions.find(job.number); c != st.completions.end()) {
    cancelled = c->second.cancelled;
    st.completions.erase(c);
  }
  complete_reply r;
  r.model = job.adapter.empty() ? st.model : job.adapter;
  r.version = job.dep->version;
  r.prompt_tokens = static_cast<uint32_t>(job.prompt.size());
  r.completion_tokens = static_cast<uint32_t>(out.size());
  auto text = continuation_text(*job.dep->tok, job.prompt, out);
  r.text = text ? *text : "";
  auto scan = scan_stops(r.text, job.stops);
  if (scan.stopped_at)
    r.text.resize(*scan.stopped_at);
  r.finish_reason = finish_reason(job, out.size(), scan.stopped_at.has_value(), cancelled);
  r.request_id = job.request_id;
  return r;
}

/// After the relay's flush (every token handled): log-probabilities and latencies, then the
/// reply goes out.
void deliver(server_self self, completion_job& job, complete_reply r) {
  const auto& rec = *job.record;
  if (job.want_logprobs >= 0)
    r.logprobs = openai_logprobs(*job.dep->tok, job.prompt, rec.logprobs, r.text.size());
  auto& m = *self->state.metrics;
  if (rec.first_s)
    m.ttft.Observe(*rec.first_s);
  for (double g : rec.gaps_s)
    m.itl.Observe(g);
  m.e2e.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - rec.start).count());
  job.promise.deliver(std::move(r));
}

void generated(server_self self, std::shared_ptr<completion_job> job,
               const std::vector<int32_t>& out) {
  auto& st = self->state;
  st.router.done(job->replica);
  auto r = make_reply(st, *job, out);
  if (job->logged)
    log_completion(self, r, job->prompt_text);
  ++st.served;
  st.metrics->ok.Increment();
  retire_idle(st);
  st.metrics->prompt_tokens.Increment(r.prompt_tokens);
  st.metrics->generated_tokens.Increment(static_cast<double>(out.size()));
  // The relay answers the flush after every token message before it (one mailbox), so the
  // client has every piece before the reply.
  auto answer = [self, job, r](auto&&...) mutable { deliver(self, *job, std::move(r)); };
  self->request(job->relay, std::chrono::seconds(10), tick_atom::value)
      .then([answer](bool) mutable { answer(); }, [answer](caf::error&) mutable { answer(); });
}

void generation_failed(server_self self, completion_job& job, caf::error& err) {
  auto& st = self->state;
  st.router.done(job.replica);
  st.completions.erase(job.number);
  self->send_exit(job.relay, caf::exit_reason::user_shutdown);
  ++st.failed;
  st.metrics->failed.Increment();
  job.promise.deliver(err);
}

/// Checks that the server can complete at all; the replica to use.
caf::expected<std::size_t> pick_language_replica(server_state& st) {
  if (!st.current)
    return make_llmos_error(error_code::unavailable,
                            "model '" + st.model + "' has no version deployed yet");
  if (!st.current->language)
    return make_llmos_error(error_code::bad_params,
                            "model '" + st.model + "' is a classifier: use predict");
  auto rid = pick_replica(st, 0);
  if (!rid)
    return make_llmos_error(error_code::unavailable,
                            "model '" + st.model + "' has no replica taking requests");
  if (!st.replicas.at(*rid).dep->tok)
    return make_llmos_error(error_code::bad_config,
                            "model '" + st.model + "' was published without a tokenizer");
  return *rid;
}

} // namespace

caf::result<complete_reply> complete(server_self self, complete_request& req) {
  auto& st = self->state;
  auto rid = pick_language_replica(st);
  if (!rid)
    return std::move(rid.error());
  auto adapter = adapter_for(st, req);
  if (!adapter)
    return std::move(adapter.error());
  auto& rep = st.replicas.at(*rid);
  auto job = std::make_shared<completion_job>();
  job->dep = rep.dep;
  auto prompt = tokenize(*job->dep, req);
  if (!prompt)
    return std::move(prompt.error());
  auto max_tokens = fit_to_context(st, *job->dep, prompt->size(), req.max_tokens);
  if (!max_tokens)
    return std::move(max_tokens.error());
  if (req.request == 0) // requests that name no number get one (RPC callers)
    req.request = (uint64_t{1} << 63) | st.next_id++;
  if (st.completions.count(req.request))
    return make_llmos_error(error_code::bad_params,
                            "request number " + std::to_string(req.request) +
                                " is already generating on server '" + st.cfg.name + "'");
  job->replica = *rid;
  job->prompt = std::move(*prompt);
  job->max_tokens = *max_tokens;
  job->number = req.request;
  job->request_id = request_id_of(st, req.request_id, st.next_id++);
  job->logged = sampled(st);
  job->stops = req.stop;
  job->want_logprobs = req.logprobs;
  job->prompt_text = req.prompt;
  job->adapter = *adapter;
  job->record = std::make_shared<relay_record>();
  job->relay = spawn_completion_relay(
      self->system(),
      relay_options{job->dep, job->prompt, req.subscriber, req.request, req.stop,
                    caf::actor_cast<caf::actor_addr>(self), req.logprobs >= 0, job->record});
  job->promise = self->make_response_promise<complete_reply>();
  st.router.sent(job->replica);
  st.completions[req.request] = {job->replica, rep.model, false, job->promise};
  self->request(rep.model, generate_timeout, generate_atom::value,
                make_generate(req, job->prompt, job->max_tokens, job->relay, job->adapter))
      .then([self, job](std::vector<int32_t>& out) { generated(self, job, out); },
            [self, job](caf::error& err) { generation_failed(self, *job, err); });
  return job->promise;
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
