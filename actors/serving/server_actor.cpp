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

/// Why the server cannot predict `req` at all; none when it can.
caf::error refusal(const server_state& st, const predict_request& req) {
  if (!st.current)
    return make_llmos_error(error_code::unavailable,
                            "model '" + st.model + "' has no version deployed yet");
  const bool canary_version = st.canary && req.version == st.canary->version;
  if (req.version != 0 && req.version != st.current->version && !canary_version)
    return make_llmos_error(error_code::not_found,
                            "model '" + st.model + "': version " + std::to_string(req.version) +
                                " is not deployed here (v" + std::to_string(st.current->version) +
                                " is)");
  if (st.current->language)
    return make_llmos_error(error_code::bad_params,
                            "model '" + st.model +
                                "' is a language model: use completions, not predict");
  return {};
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
  if (auto err = refusal(st, req))
    return reject(std::move(err), false);
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

/// A replica, the registry or the feedback analyst went down.
void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source == st.feedback.address()) {
    st.feedback = nullptr; // a restarted analyst is looked up again
    return;
  }
  if (st.registry && dm.source == st.registry.address()) {
    // Give its node a moment to restart it (restart back-off starts at 250 ms).
    st.registry = nullptr;
    st.watching = false;
    self->delayed_send(self, std::chrono::milliseconds(500), watch_atom::value);
    return;
  }
  if (serving::replica_lost(st, dm.source))
    serving::replace_replica(self);
  update_gauges(self);
}

/// A promise for a deployment step that answers the server's status once it is done.
std::function<void(caf::error)> answer_status(self_ptr self,
                                              caf::typed_response_promise<server_status> promise) {
  return [self, promise](caf::error err) mutable {
    if (err)
      promise.deliver(err);
    else
      promise.deliver(status_of(self));
  };
}

caf::result<server_status> on_deploy(self_ptr self, const std::string& ref) {
  auto promise = self->make_response_promise<server_status>();
  serving::deploy(self, ref, answer_status(self, promise));
  return promise;
}

caf::result<server_status> on_canary(self_ptr self, const std::string& ref, double share) {
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
  serving::deploy_canary(self, ref, share, answer_status(self, promise));
  return promise;
}

/// A replica's batch delay ran out: its queued rows go.
void on_batch_due(self_ptr self, uint64_t rid) {
  auto r = self->state.replicas.find(static_cast<std::size_t>(rid));
  if (r != self->state.replicas.end())
    r->second.tick_pending = false;
  flush(self, static_cast<std::size_t>(rid));
}

/// The followed alias moved: deploy by the alias (it resolves to ev.version now), so the server
/// keeps following it.
void on_alias(self_ptr self, const alias_event& ev) {
  if (ev.name == self->state.model && ev.alias == self->state.follows && ev.version > 0)
    serving::deploy(self, ev.alias, [](caf::error) {});
}

server_actor::behavior_type server_behavior(self_ptr self, serving::server_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.model = st.cfg.model;
  st.router = serving::replica_router{st.cfg.routing};
  st.metrics = std::make_unique<serving::serving_metrics>(st.cfg.model, st.cfg.name);
  self->set_down_handler([self](const caf::down_msg& dm) { on_down(self, dm); });
  serving::start(self, st.cfg.version);
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
      [self](deploy_atom, const std::string& ref) { return on_deploy(self, ref); },
      [self](canary_atom, const std::string& ref, double share) {
        return on_canary(self, ref, share);
      },
      [self](unload_atom) {
        serving::unload(self->state);
        update_gauges(self);
        return status_of(self);
      },
      [self](tick_atom, uint64_t rid) { on_batch_due(self, rid); },
      [self](retry_atom, const std::string& ref) { serving::start(self, ref); },
      [self](watch_atom) {
        if (!self->state.watching)
          serving::rewatch_registry(self);
      },
      [self](alias_atom, const alias_event& ev) { on_alias(self, ev); },
  };
}

} // namespace

caf::actor spawn_server(caf::actor_system& system, serving::server_config cfg) {
  return caf::actor_cast<caf::actor>(system.spawn(server_behavior, std::move(cfg)));
}

} // namespace llmos
