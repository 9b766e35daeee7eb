#include "serving/deployment.hpp"

#include <filesystem>
#include <fstream>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <unistd.h>

#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "directory/find_actor.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/log.hpp"
#include "model/model_actor.hpp"
#include "serving/completion_logprobs.hpp"
#include "serving/core/stop_text.hpp"
#include "serving/request_log.hpp"

namespace llmos::serving {
namespace {

using namespace std::chrono_literals;
constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto load_timeout = std::chrono::minutes(5);

/// Calls `then` with the registry handle, resolving the configured name through the directory
/// once; the server then watches the registry for alias moves.
void with_registry(server_self self, std::function<void(registry_actor)> then,
                   std::function<void(caf::error)> fail) {
  auto& st = self->state;
  auto watch = [self, then](registry_actor reg) {
    auto& st = self->state;
    st.registry = reg;
    if (!st.watching) {
      st.watching = true;
      self->send(reg, watch_atom::value, caf::actor_cast<caf::actor>(self));
    }
    then(reg);
  };
  if (st.registry)
    return watch(st.registry);
  if (st.cfg.registry_handle)
    return watch(st.cfg.registry_handle);
  if (!st.cfg.manager)
    return fail(make_llmos_error(error_code::unavailable, "server '" + st.cfg.name +
                                                              "': no node manager to find '" +
                                                              st.cfg.registry + "'"));
  find_actor(
      self, st.cfg.manager, st.cfg.registry,
      [watch](caf::actor h) { watch(caf::actor_cast<registry_actor>(h)); }, fail, call_timeout);
}

/// The package as a local deployment: weights on disk for the replicas to load, spec, tokenizer.
caf::expected<std::shared_ptr<deployed_version>> unpack(server_state& st, const model_package& pkg,
                                                        uint32_t version) {
  auto dep = std::make_shared<deployed_version>();
  dep->version = version;
  auto spec = model::parse_model_spec(pkg.spec, st.model + " v" + std::to_string(version));
  if (!spec)
    return std::move(spec.error());
  dep->spec = std::move(*spec);
  dep->language = model::is_language_model(dep->spec.architecture);
  dep->format.images = dep->spec.architecture == "cnn";
  dep->format.max_length = dep->spec.max_length;
  dep->format.image_size = dep->spec.image_size;
  if (!pkg.tokenizer.empty()) {
    auto tok = data::tokenizer::load(pkg.tokenizer);
    if (!tok)
      return std::move(tok.error());
    dep->tok = std::move(*tok);
    dep->format.pad_id = std::max(dep->tok->specials().pad, 0);
    dep->format.tokenizer = dep->tok.get();
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("llmos-serve-" + st.cfg.name + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(++st.deploys) + ".pt");
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(pkg.weights.data(), static_cast<std::streamsize>(pkg.weights.size()));
  out.close();
  if (!out)
    return make_llmos_error(error_code::io_failed,
                            "server '" + st.cfg.name + "': cannot write " + path.string());
  dep->weights_path = path.string();
  return dep;
}

/// The new replicas are loaded: route to them, drain the old ones.
void switch_to(server_self self, std::shared_ptr<deployed_version> dep,
               std::vector<replica> fresh) {
  auto& st = self->state;
  for (auto& [id, r] : st.replicas)
    if (!r.draining) {
      r.draining = true;
      st.router.drain(id);
    }
  for (auto& r : fresh) {
    self->monitor(r.model);
    st.replicas.emplace(st.router.add(), std::move(r));
  }
  std::error_code ec;
  if (st.current && st.current->weights_path != dep->weights_path)
    std::filesystem::remove(st.current->weights_path, ec); // replicas hold the weights in memory
  // A deployment ends any canary: its replicas were drained with the rest above.
  if (st.canary)
    std::filesystem::remove(st.canary->weights_path, ec);
  st.canary.reset();
  st.canary_share = 0.0;
  st.current = std::move(dep);
  log_info("server '" + st.cfg.name + "': serving " + st.model + " v" +
           std::to_string(st.current->version) + " on " + std::to_string(st.cfg.replicas) +
           " replica(s)");
  retire_idle(st);
  update_gauges(st);
}

/// The canary's replica is loaded: it takes its share from now on.
void add_canary(server_self self, std::shared_ptr<deployed_version> dep, std::vector<replica> fresh,
                double share) {
  auto& st = self->state;
  end_canary(st);
  for (auto& r : fresh) {
    r.canary = true;
    self->monitor(r.model);
    st.replicas.emplace(st.router.add(), std::move(r));
  }
  st.canary = std::move(dep);
  st.canary_share = share;
  st.canary_credit = 0.0;
  log_info("server '" + st.cfg.name + "': canary " + st.model + " v" +
           std::to_string(st.canary->version) + " takes " + std::to_string(share) +
           " of the traffic beside v" + std::to_string(st.current ? st.current->version : 0));
  update_gauges(st);
}

void stop_replica(replica& r) {
  caf::anon_send_exit(r.model, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(r.device, caf::exit_reason::user_shutdown);
}

/// Spawns `count` replicas of `dep` and loads its weights in each; when all are loaded they
/// join as the deployment (share < 0) or as a canary with that share; then `done`.
void load_replicas(server_self self, std::shared_ptr<deployed_version> dep, uint32_t count,
                   double share, std::function<void(caf::error)> done) {
  auto& st = self->state;
  auto fresh = std::make_shared<std::vector<replica>>();
  auto left = std::make_shared<uint32_t>(count);
  auto failed = std::make_shared<bool>(false);
  for (uint32_t i = 0; i < count; ++i) {
    const auto device_name = st.cfg.name + ".v" + std::to_string(dep->version) + ".r" +
                             std::to_string(i) + "." + std::to_string(st.deploys);
    auto core = device_core::create(device_name, "cpu", 0, st.cfg.threads);
    if (!core) {
      for (auto& r : *fresh)
        stop_replica(r);
      return done(core.error());
    }
    replica r;
    r.device = spawn_device(self->system(), std::move(*core));
    r.model = spawn_model(self->system(), dep->spec, r.device, device_name, st.cfg.decoding,
                          st.cfg.generate_queue);
    r.dep = dep;
    r.format = dep->format;
    r.version = dep->version;
    r.batcher = dynamic_batcher{st.cfg.batching};
    fresh->push_back(std::move(r));
  }
  for (auto& r : *fresh)
    self->request(r.model, load_timeout, load_atom::value, dep->weights_path)
        .then(
            [self, dep, fresh, left, failed, share, done](model_info&) {
              if (*failed || --*left > 0)
                return;
              if (share < 0)
                switch_to(self, dep, std::move(*fresh));
              else
                add_canary(self, dep, std::move(*fresh), share);
              done(caf::none);
            },
            [fresh, failed, done](caf::error& err) {
              if (*failed)
                return;
              *failed = true;
              for (auto& r : *fresh)
                stop_replica(r);
              done(err);
            });
}

bool is_version_number(const std::string& ref) {
  auto digits = ref.size() > 1 && ref[0] == 'v' ? ref.substr(1) : ref;
  return !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
}

/// Resolves `ref`, fetches and unpacks the package, loads it: as the deployment (share < 0)
/// or as a canary with that share.
void load_version(server_self self, const std::string& ref, double share,
                  std::function<void(caf::error)> done) {
  with_registry(
      self,
      [self, ref, share, done](registry_actor reg) {
        auto& st = self->state;
        self->request(reg, call_timeout, resolve_atom::value, st.model, ref)
            .then(
                [self, reg, ref, share, done](model_version& v) {
                  auto& st = self->state;
                  const bool canary = share >= 0;
                  if (!canary) {
                    if (!is_version_number(ref) && ref != "latest")
                      st.follows = ref;
                    else
                      st.follows.clear();
                    if (st.current && st.current->version == v.version)
                      return done(caf::none);
                  } else if (st.current && st.current->version == v.version) {
                    return done(make_llmos_error(error_code::bad_params,
                                                 "server '" + st.cfg.name + "': v" +
                                                     std::to_string(v.version) +
                                                     " is the deployed version, not a canary"));
                  }
                  self->request(reg, load_timeout, fetch_atom::value, st.model, v.version)
                      .then(
                          [self, v, share, canary, done](model_package& pkg) {
                            auto dep = unpack(self->state, pkg, v.version);
                            if (!dep)
                              return done(dep.error());
                            const auto count = canary ? 1u : self->state.cfg.replicas;
                            load_replicas(self, std::move(*dep), count, share, done);
                          },
                          [done](caf::error& err) { done(err); });
                },
                [done](caf::error& err) { done(err); });
      },
      done);
}

} // namespace

void start(server_self self, const std::string& ref) {
  deploy(self, ref, [self, ref](caf::error err) {
    if (!err)
      return;
    auto& st = self->state;
    if (!st.retry_logged) {
      st.retry_logged = true;
      log_warning("server '" + st.cfg.name + "': cannot deploy " + st.model + " '" + ref +
                  "' yet (" + describe(err) + "); retrying every second");
    }
    if (!st.current)
      self->delayed_send(self, 1s, retry_atom::value, ref);
  });
}

void deploy(server_self self, const std::string& ref, std::function<void(caf::error)> done) {
  load_version(self, ref, -1.0, std::move(done));
}

void deploy_canary(server_self self, const std::string& ref, double share,
                   std::function<void(caf::error)> done) {
  load_version(self, ref, share, std::move(done));
}

void end_canary(server_state& st) {
  for (auto& [id, r] : st.replicas)
    if (r.canary && !r.draining) {
      r.draining = true;
      st.router.drain(id);
    }
  if (st.canary) {
    log_info("server '" + st.cfg.name + "': canary v" + std::to_string(st.canary->version) +
             " ended");
    std::error_code ec;
    std::filesystem::remove(st.canary->weights_path, ec);
  }
  st.canary.reset();
  st.canary_share = 0.0;
  retire_idle(st);
}

void unload(server_state& st) {
  for (auto& [id, r] : st.replicas) {
    stop_replica(r);
    st.router.remove(id);
  }
  st.replicas.clear();
  for (auto& [id, p] : st.requests)
    p.promise.deliver(
        make_llmos_error(error_code::unavailable, "model '" + st.model + "' was unloaded"));
  st.requests.clear();
  st.rows.clear();
  std::error_code ec;
  if (st.current)
    std::filesystem::remove(st.current->weights_path, ec);
  if (st.canary)
    std::filesystem::remove(st.canary->weights_path, ec);
  st.current.reset();
  st.canary.reset();
  st.canary_share = 0.0;
}

void replica_lost(server_state& st, const caf::actor_addr& source) {
  for (auto i = st.replicas.begin(); i != st.replicas.end(); ++i) {
    if (i->second.model.address() != source)
      continue;
    // Its queued rows and its batch in flight fail: the caller may retry on another replica.
    std::vector<uint64_t> queued;
    while (i->second.batcher.size() > 0)
      for (auto id : i->second.batcher.take())
        queued.push_back(id);
    for (auto id : queued) {
      auto row = st.rows.find(id);
      if (row == st.rows.end())
        continue;
      auto req = st.requests.find(row->second.request);
      if (req != st.requests.end()) {
        req->second.promise.deliver(make_llmos_error(
            error_code::unavailable, "model '" + st.model + "': its replica went down"));
        st.requests.erase(req);
      }
      st.rows.erase(row);
    }
    caf::anon_send_exit(i->second.device, caf::exit_reason::user_shutdown);
    st.router.remove(i->first);
    const bool canary = i->second.canary && !i->second.draining;
    st.replicas.erase(i);
    if (canary) // its share would fail from now on: the canary ends with its replica
      end_canary(st);
    return;
  }
}

void retire_idle(server_state& st) {
  for (auto i = st.replicas.begin(); i != st.replicas.end();) {
    auto& r = i->second;
    if (r.draining && r.in_flight == 0 && r.batcher.size() == 0 && st.router.idle(i->first)) {
      stop_replica(r);
      st.router.remove(i->first);
      i = st.replicas.erase(i);
    } else {
      ++i;
    }
  }
}

std::optional<std::size_t> pick_replica(server_state& st, uint32_t version) {
  if (!st.canary)
    return st.router.pick();
  bool want_canary = version == st.canary->version;
  if (version == 0) {
    st.canary_credit += st.canary_share;
    if (st.canary_credit >= 1.0) {
      st.canary_credit -= 1.0;
      want_canary = true;
    }
  }
  // The router's policy cannot be told which group to pick from: least outstanding within it.
  std::optional<std::size_t> best;
  for (auto id : st.router.active()) {
    auto r = st.replicas.find(id);
    if (r == st.replicas.end() || r->second.canary != want_canary)
      continue;
    if (!best || st.router.outstanding(id) < st.router.outstanding(*best))
      best = id;
  }
  return best;
}

void update_gauges(server_state& st) {
  std::size_t queued = 0, active = 0;
  for (auto& [id, r] : st.replicas) {
    queued += r.batcher.size();
    active += r.draining ? 0 : 1;
  }
  st.metrics->queued.Set(static_cast<double>(queued));
  st.metrics->replicas.Set(static_cast<double>(active));
}

void stop_all(server_state& st) {
  for (auto& [id, r] : st.replicas)
    stop_replica(r);
  std::error_code ec;
  if (st.current)
    std::filesystem::remove(st.current->weights_path, ec);
  if (st.canary)
    std::filesystem::remove(st.canary->weights_path, ec);
}

server_state::~server_state() {
  stop_all(*this);
}

caf::result<complete_reply> complete(server_self self, complete_request& req) {
  auto& st = self->state;
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
  auto& rep = st.replicas.at(*rid);
  auto dep = rep.dep;
  if (!dep->tok)
    return make_llmos_error(error_code::bad_config,
                            "model '" + st.model + "' was published without a tokenizer");
  auto prompt = dep->tok->encode(req.prompt);
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
                                     stops = req.stop, server, times,
                                     logprobs](caf::event_based_actor* relay_self) {
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
  const auto request_id = request_id_of(st, req.request_id, st.next_id++);
  const auto logged = sampled(st);
  st.router.sent(*rid);
  st.completions[req.request] = {*rid, rep.model, false};
  auto promise = self->make_response_promise<complete_reply>();
  const auto rid_v = *rid;
  const auto prompt_tokens = static_cast<uint32_t>(prompt.size());
  self->request(rep.model, load_timeout, generate_atom::value, std::move(g))
      .then(
          [self, promise, relay, dep, rid_v, prompt_tokens, request_id, logged, prompt, max_tokens,
           number = req.request, stops = req.stop, times, logprobs, want_logprobs = req.logprobs,
           prompt_text = req.prompt](std::vector<int32_t>& out) mutable {
            auto& st = self->state;
            st.router.done(rid_v);
            bool cancelled = false;
            if (auto c = st.completions.find(number); c != st.completions.end()) {
              cancelled = c->second.cancelled;
              st.completions.erase(c);
            }
            complete_reply r;
            r.model = st.model;
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
