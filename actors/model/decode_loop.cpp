// The model actor's decode loop (decode_loop.hpp): device jobs of one or more steps (up to
// step_budget while no sequence ends), the actor in between.
#include "model/model_state.hpp"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "device/device_actor.hpp"
#include "llmos/messages/error.hpp"
#include "model/decode_step.hpp"
#include "model/model_metrics.hpp"

namespace llmos::model {

namespace {

/// The JSON of a token's log-probabilities for the subscriber (see generate_request::logprobs).
std::string logprob_text(int32_t token, const model::token_logprobs& lp) {
  nlohmann::json top = nlohmann::json::array();
  for (auto [id, v] : lp.top)
    top.push_back({id, v});
  return nlohmann::json{{"token", token}, {"logprob", lp.chosen}, {"top", top}}.dump();
}

/// Drops the busy period's decoder, engine and adapter indices. A decoder on a GPU is dropped
/// on its device's thread: freeing its pool may synchronise the GPU, which must not hold up this
/// actor's thread (nor run while another model's job uses the GPU from the device's).
void end_period(self_ptr self) {
  auto& loop = self->state.decoding;
  if (loop.decoder && loop.decoder->device() != "cpu") {
    auto held = std::make_shared<std::shared_ptr<model::batch_decoder>>(std::move(loop.decoder));
    device_job job;
    job.what = "drop decoder";
    job.run = std::make_shared<std::function<void(const device_info&)>>(
        [held](const device_info&) { held->reset(); });
    self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
        .then([](double) {}, [](caf::error&) {}); // a dead device drops it with the message
  }
  loop.decoder.reset();
  loop.eng.reset();
  loop.adapter_index.clear();
  loop.new_adapters.clear();
  loop.adapters_added = 0;
}

void fail_all(decode_loop& loop, const caf::error& err) {
  for (auto& [id, r] : loop.running)
    r.promise.deliver(err);
  loop.running.clear();
}

/// Nothing waits or runs: the busy period ends. Decoder ids start again in the next one, so
/// nothing may refer to this one's.
void end_busy_period(self_ptr self) {
  auto& loop = self->state.decoding;
  end_period(self);
  loop.cancels.clear();
  loop.priorities.clear();
  loop.sequences.clear();
  loop.stats = {};
}

/// The waiting requests move into `batch`, each as a sequence for the decoder in `admits`.
void take_waiting(decode_loop& loop, std::vector<decode_request>& batch,
                  std::vector<model::sequence_request>& admits) {
  while (!loop.waiting.empty()) {
    auto& w = loop.waiting.front();
    model::sequence_request s;
    s.prompt = w.req.prompt;
    s.max_new = w.req.max_tokens;
    s.sampling = model::sampling_of(w.req);
    s.seed = w.req.seed;
    s.priority = w.req.priority;
    s.logprobs = w.req.logprobs;
    s.adapter = w.req.adapter.empty() ? -1 : loop.adapter_index.at(w.req.adapter);
    admits.push_back(std::move(s));
    batch.push_back(std::move(w));
    loop.waiting.pop_front();
  }
}

/// The requests the job admitted run from now on; those it refused are answered. Those cancelled
/// meanwhile (answered already) leave the decoder with the next job, and priorities changed
/// meanwhile reach it then.
void take_admitted(self_ptr self, step_result& result) {
  auto& loop = self->state.decoding;
  auto batch = std::exchange(loop.admitting, {});
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& id = result.admitted[i];
    auto& r = batch[i];
    if (r.cancelled) {
      if (id)
        loop.cancels.push_back(*id);
      continue;
    }
    if (!id) {
      r.promise.deliver(id.error());
      continue;
    }
    if (r.reprioritised)
      loop.priorities.emplace_back(*id, r.req.priority);
    model::record_queue_time(
        self->state.spec.name,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - r.queued).count());
    loop.running.emplace(*id, std::move(r));
  }
}

/// Tokens go to their subscribers (log-probabilities first); a finished sequence is answered.
/// Returns the tokens made.
std::size_t deliver_events(decode_loop& loop, const step_result& result) {
  const bool together = result.widest > 1;
  std::size_t made = 0;
  for (const auto& ev : *result.events) {
    auto it = loop.running.find(ev.id);
    if (it == loop.running.end())
      continue;
    auto& r = it->second;
    if (ev.token >= 0) {
      r.out.push_back(ev.token);
      ++made;
      if (together)
        ++loop.batched_tokens;
      if (r.req.subscriber && ev.logprobs)
        caf::anon_send(r.req.subscriber, logprob_atom::value, r.req.request,
                       logprob_text(ev.token, *ev.logprobs));
      if (r.req.subscriber)
        caf::anon_send(r.req.subscriber, token_atom::value, r.req.request, ev.token);
    }
    if (ev.finished) {
      r.promise.deliver(std::move(r.out));
      loop.running.erase(it);
    }
  }
  return made;
}

void kick(self_ptr self);

void stepped(self_ptr self, step_result& result) {
  auto& loop = self->state.decoding;
  loop.busy = false;
  take_admitted(self, result);
  if (!result.events) {
    fail_all(loop, result.events.error());
    end_period(self); // the next request starts afresh
    return kick(self);
  }
  ++loop.steps;
  loop.sequences = std::move(result.sequences);
  loop.stats = result.stats;
  const auto made = deliver_events(loop, result);
  model::record_decode(self->state.spec.name, result.widest, loop.running.size(),
                       loop.waiting.size() + loop.stats.waiting, made);
  model::record_kv(self->state.spec.name, loop.stats, loop.cancelled);
  kick(self);
}

void step_failed(self_ptr self, const caf::error& err) {
  auto& loop = self->state.decoding;
  loop.busy = false;
  for (auto& r : std::exchange(loop.admitting, {}))
    if (!r.cancelled)
      r.promise.deliver(err);
  fail_all(loop, err);
  end_period(self);
  kick(self);
}

/// Starts the next step when the device is free and something is waiting or running; ends the
/// busy period (drops decoder and engine) when nothing is.
void kick(self_ptr self) {
  auto& loop = self->state.decoding;
  if (loop.busy)
    return;
  if (loop.waiting.empty() && loop.running.empty()) {
    if (loop.stats.blocks_total > 0) {
      // The last step's counters may still hold a sequence cancelled during it: the cache is
      // released with the decoder, so what is published now is an empty one (the gauges are
      // otherwise only written after steps, and no step follows).
      auto idle = loop.stats;
      idle.blocks_used = 0;
      idle.swap_blocks_used = 0;
      idle.running = idle.waiting = idle.preempted = 0;
      model::record_kv(self->state.spec.name, idle, loop.cancelled);
    }
    return end_busy_period(self);
  }
  loop.busy = true;
  auto admits = std::make_shared<std::vector<model::sequence_request>>();
  take_waiting(loop, loop.admitting, *admits);
  auto result = std::make_shared<step_result>();
  device_job job;
  job.what = "decode step";
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      step_job{loop.eng, loop.decoder, admits, result, std::exchange(loop.new_adapters, {}),
               std::exchange(loop.cancels, {}), std::exchange(loop.priorities, {})});
  self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
      .then([self, result](double) { stepped(self, *result); },
            [self](caf::error& err) { step_failed(self, err); });
}

} // namespace

bool cancel_generate(self_ptr self, uint64_t request) {
  auto& loop = self->state.decoding;
  for (auto it = loop.waiting.begin(); it != loop.waiting.end(); ++it)
    if (it->req.request == request) {
      it->promise.deliver(std::move(it->out));
      loop.waiting.erase(it);
      ++loop.cancelled;
      if (loop.stats.blocks_total > 0) // a step of this busy period published its counters
        model::record_kv(self->state.spec.name, loop.stats, loop.cancelled);
      return true;
    }
  for (auto& r : loop.admitting)
    if (r.req.request == request && !r.cancelled) {
      // The job on the device admits it: take_admitted hands the decoder its cancel.
      r.cancelled = true;
      r.promise.deliver(std::move(r.out));
      ++loop.cancelled;
      return true;
    }
  for (auto it = loop.running.begin(); it != loop.running.end(); ++it)
    if (it->second.req.request == request) {
      // Tokens of the job in flight that arrive for it are dropped (it is no longer running).
      loop.cancels.push_back(it->first);
      it->second.promise.deliver(std::move(it->second.out));
      loop.running.erase(it);
      ++loop.cancelled;
      kick(self); // ends the busy period when it was the last one
      return true;
    }
  return false;
}

bool prioritise_generate(self_ptr self, uint64_t request, int32_t priority) {
  auto& loop = self->state.decoding;
  for (auto& w : loop.waiting)
    if (w.req.request == request) {
      w.req.priority = priority;
      return true;
    }
  for (auto& r : loop.admitting)
    if (r.req.request == request && !r.cancelled) {
      r.req.priority = priority;
      r.reprioritised = true;
      return true;
    }
  for (auto& [id, r] : loop.running)
    if (r.req.request == request) {
      r.req.priority = priority;
      loop.priorities.emplace_back(id, priority);
      return true;
    }
  return false;
}

std::vector<sequence_row> generations(self_ptr self) {
  auto& loop = self->state.decoding;
  std::vector<sequence_row> out;
  for (auto& w : loop.waiting)
    out.push_back({w.req.request, w.req.priority, "queued",
                   static_cast<uint32_t>(w.req.prompt.size()), 0, 0, ""});
  for (auto& a : loop.admitting)
    if (!a.cancelled)
      out.push_back({a.req.request, a.req.priority, "admitting",
                     static_cast<uint32_t>(a.req.prompt.size()), 0, 0, ""});
  for (auto& s : loop.sequences) {
    auto it = loop.running.find(s.id);
    if (it == loop.running.end())
      continue; // ended or cancelled since the last job
    out.push_back({it->second.req.request, it->second.req.priority, s.state,
                   static_cast<uint32_t>(s.tokens), static_cast<uint32_t>(s.generated),
                   static_cast<uint32_t>(s.blocks), ""});
  }
  return out;
}

bool enqueue_generate(self_ptr self, generate_request& req,
                      caf::typed_response_promise<std::vector<int32_t>> promise) {
  auto& loop = self->state.decoding;
  if (!loop.cfg.continuous)
    return false;
  if (!loop.decoder) {
    // A new busy period: bind the current engine, if its network can run in the kernel.
    auto made = model::batch_decoder::create(*self->state.eng, loop.cfg);
    if (!made)
      return false;
    loop.eng = self->state.eng;
    loop.decoder = std::shared_ptr<model::batch_decoder>(std::move(*made));
  }
  if (!req.adapter.empty()) {
    auto& adapters = self->state.adapters;
    auto known = adapters.find(req.adapter);
    if (known == adapters.end()) {
      std::string names;
      for (const auto& [name, a] : adapters)
        names += (names.empty() ? "" : ", ") + name;
      promise.deliver(make_llmos_error(error_code::not_found,
                                       "model '" + self->state.spec.name + "': no adapter '" +
                                           req.adapter + "' (serving " +
                                           (names.empty() ? std::string{"none"} : names) + ")"));
      return true;
    }
    if (loop.eng != self->state.eng) {
      // Adapters were taken over the engine loaded since this busy period began.
      promise.deliver(make_llmos_error(error_code::unavailable,
                                       "model '" + self->state.spec.name +
                                           "': its weights were reloaded; retry when the "
                                           "generations of the old ones end"));
      return true;
    }
    if (!loop.adapter_index.count(req.adapter)) {
      loop.adapter_index.emplace(req.adapter, loop.adapters_added++);
      loop.new_adapters.push_back(known->second);
    }
  }
  if (req.max_tokens == 0) {
    promise.deliver(std::vector<int32_t>{});
    return true;
  }
  // Queued here, and admitted but not running: filling their prompt or preempted (as of the
  // last job). Running sequences are not counted: they leave on their own.
  const auto waiting = loop.waiting.size() + loop.stats.waiting + loop.stats.preempted;
  if (waiting >= loop.max_waiting) {
    promise.deliver(make_llmos_error(error_code::overloaded,
                                     "model '" + self->state.spec.name +
                                         "': " + std::to_string(waiting) +
                                         " generate requests are waiting; retry later"));
    return true;
  }
  loop.waiting.push_back(
      {std::move(req), std::move(promise), {}, std::chrono::steady_clock::now()});
  kick(self);
  return true;
}

} // namespace llmos::model
