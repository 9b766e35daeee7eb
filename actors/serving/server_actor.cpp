#include "serving/server_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "device/device_actor.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/registry.hpp"
#include "serving/core/adapter_list.hpp"
#include "serving/deployment.hpp"
#include "serving/request_log.hpp"
#include "serving/server_state.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;
using serving::server_state;
using clock_type = std::chrono::steady_clock;

using self_ptr = serving::server_self;

constexpr auto call_timeout = 30s;

server_status status_of(self_ptr self) {
  auto& st = self->state;
  server_status s;
  s.model = st.model;
  s.follows = st.follows;
  s.version = st.current ? st.current->version : 0;
  s.ready = st.current != nullptr;
  s.kind = st.current ? (st.current->language ? "language" : "classifier") : "";
  for (auto& [id, r] : st.replicas) {
    if (!r.draining)
      ++s.replicas;
    s.queued += r.batcher.size();
    s.in_flight += r.in_flight;
  }
  s.served = st.served;
  s.rejected = st.rejected;
  s.failed = st.failed;
  s.p50_ms = st.latencies.percentile(50) * 1000.0;
  s.p99_ms = st.latencies.percentile(99) * 1000.0;
  s.mean_batch = st.batches > 0 ? static_cast<double>(st.batched_rows) / st.batches : 0.0;
  s.canary_version = st.canary ? st.canary->version : 0;
  s.canary_share = st.canary_share;
  return s;
}

void update_gauges(self_ptr self) {
  serving::update_gauges(self->state);
}

void flush(self_ptr self, std::size_t rid);

/// Answers every row of a request that failed with one error.
void fail_request(self_ptr self, uint64_t req_id, const caf::error& err) {
  auto& st = self->state;
  auto i = st.requests.find(req_id);
  if (i == st.requests.end())
    return;
  i->second.promise.deliver(err);
  ++st.failed;
  st.metrics->failed.Increment();
  st.requests.erase(i);
}

void complete_row(self_ptr self, uint64_t row_id, prediction_item item) {
  auto& st = self->state;
  auto row = st.rows.find(row_id);
  if (row == st.rows.end())
    return;
  auto req = st.requests.find(row->second.request);
  const auto index = row->second.index;
  st.rows.erase(row);
  if (req == st.requests.end())
    return; // the request already failed
  auto& p = req->second;
  p.reply.predictions[index] = std::move(item);
  if (--p.remaining > 0)
    return;
  const double seconds = std::chrono::duration<double>(clock_type::now() - p.started).count();
  st.latencies.record(seconds);
  st.metrics->latency.Observe(seconds);
  st.metrics->ok.Increment();
  ++st.served;
  if (p.logged)
    serving::log_served(self, p);
  p.promise.deliver(std::move(p.reply));
  st.requests.erase(req);
}

/// A replica's batch came back (or failed): answer its rows, then maybe send the next batch, or
/// stop the replica when it was draining and is now empty.
void batch_done(self_ptr self, std::size_t rid, const std::vector<uint64_t>& ids,
                caf::expected<std::vector<prediction_item>> result) {
  auto& st = self->state;
  st.router.done(rid, static_cast<uint32_t>(ids.size()));
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (!result) {
      auto row = st.rows.find(ids[k]);
      if (row != st.rows.end()) {
        auto req = row->second.request;
        st.rows.erase(row);
        fail_request(self, req, result.error());
      }
      continue;
    }
    complete_row(self, ids[k], k < result->size() ? (*result)[k] : prediction_item{});
  }
  auto r = st.replicas.find(rid);
  if (r == st.replicas.end())
    return;
  r->second.in_flight = 0;
  flush(self, rid);
  serving::retire_idle(st);
  update_gauges(self);
}

void flush(self_ptr self, std::size_t rid) {
  auto& st = self->state;
  auto r = st.replicas.find(rid);
  if (r == st.replicas.end() || r->second.in_flight > 0 || r->second.batcher.size() == 0)
    return;
  auto& rep = r->second;
  const auto now = clock_type::now();
  if (!rep.batcher.ready(now)) {
    if (!rep.tick_pending) {
      rep.tick_pending = true;
      auto wait =
          std::chrono::duration_cast<std::chrono::microseconds>(*rep.batcher.deadline() - now);
      self->delayed_send(self, std::max(wait, std::chrono::microseconds{0}), tick_atom::value,
                         static_cast<uint64_t>(rid));
    }
    return;
  }
  auto ids = rep.batcher.take();
  std::vector<const std::string*> rows;
  rows.reserve(ids.size());
  for (auto id : ids)
    rows.push_back(&st.rows.at(id).bytes);
  auto batch = serving::batch_of(rows, rep.format);
  rep.in_flight = static_cast<uint32_t>(ids.size());
  ++st.batches;
  st.batched_rows += ids.size();
  st.metrics->batch_size.Observe(static_cast<double>(ids.size()));
  self->request(rep.model, call_timeout, infer_atom::value, std::move(batch))
      .then([self, rid, ids](std::vector<prediction_item>& ps) { batch_done(self, rid, ids, ps); },
            [self, rid, ids](caf::error& err) { batch_done(self, rid, ids, err); });
}

caf::result<predict_reply> predict(self_ptr self, predict_request& req) {
  auto& st = self->state;
  auto reject = [&](caf::error err, bool overloaded) -> caf::result<predict_reply> {
    if (overloaded) {
      ++st.rejected;
      st.metrics->rejected.Increment();
    } else {
      ++st.failed;
      st.metrics->failed.Increment();
    }
    return err;
  };
  if (!st.current)
    return reject(make_llmos_error(error_code::unavailable,
                                   "model '" + st.model + "' has no version deployed yet"),
                  false);
  const bool canary_version = st.canary && req.version == st.canary->version;
  if (req.version != 0 && req.version != st.current->version && !canary_version)
    return reject(make_llmos_error(error_code::not_found,
                                   "model '" + st.model + "': version " +
                                       std::to_string(req.version) + " is not deployed here (v" +
                                       std::to_string(st.current->version) + " is)"),
                  false);
  if (st.current->language)
    return reject(make_llmos_error(error_code::bad_params, "model '" + st.model +
                                                               "' is a language model: use "
                                                               "completions, not predict"),
                  false);
  auto rid = serving::pick_replica(st, req.version);
  if (!rid)
    return reject(make_llmos_error(error_code::unavailable,
                                   "model '" + st.model + "' has no replica taking requests"),
                  false);
  auto& rep = st.replicas.at(*rid);
  auto rows = serving::rows_of(req, rep.format);
  if (!rows)
    return reject(rows.error(), false);
  if (rows->empty())
    return predict_reply{st.model, st.current->version, {}, req.request_id};
  if (rep.batcher.size() + rows->size() > rep.batcher.config().queue_limit)
    return reject(make_llmos_error(error_code::overloaded,
                                   "model '" + st.model + "': queue full (" +
                                       std::to_string(rep.batcher.config().queue_limit) +
                                       " rows); retry later"),
                  true);
  const uint64_t req_id = st.next_id++;
  auto& p = st.requests[req_id];
  p.promise = self->make_response_promise<predict_reply>();
  p.reply.model = st.model;
  p.reply.version = rep.version;
  p.reply.predictions.resize(rows->size());
  p.reply.request_id = serving::request_id_of(st, req.request_id, req_id);
  if (serving::sampled(st)) {
    p.logged = true;
    p.texts = req.texts;
  }
  p.remaining = static_cast<uint32_t>(rows->size());
  const auto now = clock_type::now();
  p.started = now;
  for (uint32_t i = 0; i < rows->size(); ++i) {
    const uint64_t row_id = st.next_id++;
    st.rows.emplace(row_id, serving::row_item{req_id, i, std::move((*rows)[i])});
    rep.batcher.push(row_id, req.priority, now);
  }
  st.router.sent(*rid, static_cast<uint32_t>(rows->size()));
  flush(self, *rid);
  update_gauges(self);
  return p.promise;
}

server_actor::behavior_type server_behavior(self_ptr self, serving::server_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.model = self->state.cfg.model;
  self->state.router = serving::replica_router{self->state.cfg.routing};
  self->state.metrics =
      std::make_unique<serving::serving_metrics>(self->state.cfg.model, self->state.cfg.name);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.feedback.address()) {
      self->state.feedback = nullptr; // a restarted analyst is looked up again
      return;
    }
    if (self->state.registry && dm.source == self->state.registry.address()) {
      // Give its node a moment to restart it (restart back-off starts at 250 ms).
      self->state.registry = nullptr;
      self->state.watching = false;
      self->delayed_send(self, std::chrono::milliseconds(500), watch_atom::value);
      return;
    }
    serving::replica_lost(self->state, dm.source);
    update_gauges(self);
  });
  serving::start(self, self->state.cfg.version);
  return {
      [self](predict_atom, predict_request& req) { return predict(self, req); },
      [self](complete_atom, complete_request& req) -> caf::result<complete_reply> {
        return serving::complete(self, req);
      },
      [self](cancel_atom, uint64_t request) { return serving::cancel_completion(self, request); },
      [self](priority_atom, uint64_t request, int32_t priority) {
        return serving::prioritise_completion(self, request, priority);
      },
      [self](sequences_atom) { return serving::list_sequences(self); },
      [self](status_atom) { return status_of(self); },
      [self](deploy_atom, const std::string& ref) -> caf::result<server_status> {
        auto promise = self->make_response_promise<server_status>();
        serving::deploy(self, ref, [self, promise](caf::error err) mutable {
          if (err)
            promise.deliver(err);
          else
            promise.deliver(status_of(self));
        });
        return promise;
      },
      [self](canary_atom, const std::string& ref, double share) -> caf::result<server_status> {
        if (ref.empty() || share <= 0.0) {
          serving::end_canary(self->state);
          update_gauges(self);
          return status_of(self);
        }
        if (share >= 1.0)
          return make_llmos_error(error_code::bad_params,
                                  "server '" + self->state.cfg.name +
                                      "': a canary's share must be below 1 (got " +
                                      std::to_string(share) + "); deploy the version instead");
        auto promise = self->make_response_promise<server_status>();
        serving::deploy_canary(self, ref, share, [self, promise](caf::error err) mutable {
          if (err)
            promise.deliver(err);
          else
            promise.deliver(status_of(self));
        });
        return promise;
      },
      [self](unload_atom) {
        serving::unload(self->state);
        update_gauges(self);
        return status_of(self);
      },
      [self](tick_atom, uint64_t rid) {
        auto r = self->state.replicas.find(static_cast<std::size_t>(rid));
        if (r != self->state.replicas.end())
          r->second.tick_pending = false;
        flush(self, static_cast<std::size_t>(rid));
      },
      [self](retry_atom, const std::string& ref) { serving::start(self, ref); },
      [self](watch_atom) {
        if (!self->state.watching)
          serving::rewatch_registry(self);
      },
      [self](alias_atom, const alias_event& ev) {
        if (ev.name == self->state.model && ev.alias == self->state.follows && ev.version > 0)
          // By the alias (it resolves to ev.version now), so the server keeps following it.
          serving::deploy(self, ev.alias, [](caf::error) {});
      },
  };
}

caf::expected<uint32_t> bounded(const std::map<std::string, std::string>& config,
                                const std::string& key, long long lo, long long hi) {
  const long long v = std::stoll(config.at(key));
  if (v < lo || v > hi)
    return make_llmos_error(error_code::bad_config,
                            "config key '" + key + "' must be from " + std::to_string(lo) + " to " +
                                std::to_string(hi) + ", got " + config.at(key));
  return static_cast<uint32_t>(v);
}

} // namespace

actor_kind server_kind() {
  actor_kind kind;
  kind.name = "server";
  kind.help = "serves a registry model (an alias or a version) on replicas with dynamic batching";
  kind.fields = {
      {"model", config_type::string, "", true, "registry model name (the HTTP route)", {}},
      {"registry", config_type::string, "registry", false, "registry actor name", {}},
      {"version",
       config_type::string,
       "production",
       false,
       "alias to follow, or 3 / v3 / latest",
       {}},
      {"replicas",
       config_type::integer,
       "1",
       false,
       "model replicas, each on a CPU device of its own (or all on `device`)",
       {}},
      {"threads", config_type::integer, "1", false, "CPU threads of each replica's device", {}},
      {"device",
       config_type::string,
       "",
       false,
       "a device actor of this node every replica computes on (a GPU: type cuda), declared "
       "before the server",
       {}},
      {"max_batch", config_type::integer, "32", false, "rows per forward pass at most", {}},
      {"max_delay_us",
       config_type::integer,
       "2000",
       false,
       "longest wait of a row for its batch",
       {}},
      {"queue_limit", config_type::integer, "1024", false, "rows queued per replica at most", {}},
      {"routing",
       config_type::string,
       "least_outstanding",
       false,
       "replica choice",
       {"least_outstanding", "power_of_two"}},
      {"feedback",
       config_type::string,
       "",
       false,
       "feedback analyst actor that gets the request log (\"\" = none)",
       {}},
      {"log_sample", config_type::number, "1.0", false, "share of requests logged (0..1)", {}},
      {"kv_block_size",
       config_type::integer,
       "16",
       false,
       "language replicas: positions per KV cache block",
       {}},
      {"kv_blocks",
       config_type::integer,
       "0",
       false,
       "language replicas: KV cache blocks (0: from kv_bytes)",
       {}},
      {"kv_bytes",
       config_type::integer,
       "0",
       false,
       "language replicas: KV cache bytes (both 0: 64 contexts or 256 MiB, the smaller)",
       {}},
      {"kv_swap",
       config_type::boolean,
       "false",
       false,
       "language replicas: preempted generations keep their cache in host memory (else "
       "recompute it)",
       {}},
      {"prefill_chunk",
       config_type::integer,
       "64",
       false,
       "language replicas: prompt tokens per decode step",
       {}},
      {"continuous_batching",
       config_type::boolean,
       "true",
       false,
       "language replicas: decode requests together (false: one at a time, a baseline)",
       {}},
      {"generate_queue",
       config_type::integer,
       "256",
       false,
       "language replicas: generations waiting at most (then 429)",
       {}},
      {"adapters",
       config_type::string,
       "",
       false,
       "language replicas: LoRA fine-tunes of the model served as adapters over it, "
       "comma-separated registry names (NAME or NAME@VERSION); requests choose by model name",
       {}},
  };
  kind.spawn = [](spawn_context& ctx) -> caf::expected<caf::actor> {
    serving::server_config cfg;
    cfg.name = ctx.name;
    cfg.model = ctx.config["model"];
    cfg.registry = ctx.config["registry"];
    cfg.version = ctx.config["version"];
    cfg.manager = ctx.manager;
    if (const auto& device = ctx.config["device"]; !device.empty()) {
      auto handle = find_local_device(ctx, "server");
      if (!handle)
        return std::move(handle.error());
      cfg.device = *handle;
      cfg.device_name = device;
    }
    cfg.feedback = ctx.config["feedback"];
    cfg.log_sample = std::stod(ctx.config["log_sample"]);
    if (cfg.log_sample < 0.0 || cfg.log_sample > 1.0)
      return make_llmos_error(error_code::bad_config, "config key 'log_sample' must be from 0 to "
                                                      "1, got " +
                                                          ctx.config["log_sample"]);
    struct limit {
      const char* key;
      long long lo, hi;
      uint32_t* out;
    };
    uint32_t max_batch = 0, delay = 0, queue = 0;
    for (auto [key, lo, hi, out] :
         {limit{"replicas", 1, 64, &cfg.replicas}, limit{"threads", 1, 1024, &cfg.threads},
          limit{"max_batch", 1, 4096, &max_batch}, limit{"max_delay_us", 0, 10000000, &delay},
          limit{"queue_limit", 1, 1000000, &queue}}) {
      auto v = bounded(ctx.config, key, lo, hi);
      if (!v)
        return std::move(v.error());
      *out = *v;
    }
    uint32_t block_size = 0, kv_blocks = 0, prefill = 0, gen_queue = 0;
    for (auto [key, lo, hi, out] :
         {limit{"kv_block_size", 1, 4096, &block_size}, limit{"kv_blocks", 0, 1u << 30, &kv_blocks},
          limit{"prefill_chunk", 1, 1u << 20, &prefill},
          limit{"generate_queue", 1, 1000000, &gen_queue}}) {
      auto v = bounded(ctx.config, key, lo, hi);
      if (!v)
        return std::move(v.error());
      *out = *v;
    }
    const long long kv_bytes = std::stoll(ctx.config["kv_bytes"]);
    if (kv_bytes < 0)
      return make_llmos_error(error_code::bad_config,
                              "config key 'kv_bytes' must not be negative, got " +
                                  ctx.config["kv_bytes"]);
    cfg.decoding.block_size = static_cast<int32_t>(block_size);
    cfg.decoding.pool_blocks = kv_blocks;
    cfg.decoding.pool_bytes = kv_bytes;
    cfg.decoding.prefill_chunk = prefill;
    cfg.decoding.swap = ctx.config["kv_swap"] == "true";
    cfg.decoding.continuous = ctx.config["continuous_batching"] == "true";
    cfg.generate_queue = gen_queue;
    auto adapters = serving::parse_adapters(ctx.config["adapters"], cfg.model);
    if (!adapters)
      return std::move(adapters.error());
    cfg.adapters = std::move(*adapters);
    cfg.batching.max_batch = max_batch;
    cfg.batching.max_delay = std::chrono::microseconds{delay};
    cfg.batching.queue_limit = queue;
    if (auto err = serving::validate(cfg.batching))
      return make_llmos_error(error_code::bad_config, describe(err));
    auto routing = serving::parse_routing_policy(ctx.config["routing"]);
    if (!routing)
      return std::move(routing.error());
    cfg.routing = *routing;
    return caf::actor_cast<caf::actor>(ctx.system.spawn(server_behavior, std::move(cfg)));
  };
  return kind;
}

} // namespace llmos
