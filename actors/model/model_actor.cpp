#include "model/model_actor.hpp"

#include <chrono>
#include <deque>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "device/device_actor.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "model/checkpoint_bytes.hpp"
#include "model/core/early_stopping.hpp"
#include "model/model_metrics.hpp"
#include "model/progress_text.hpp"
#include "model/train/engine.hpp"
#include "model/train/gradient_group.hpp"

namespace llmos {

namespace {

using namespace std::chrono_literals;
using model::engine;

constexpr auto data_timeout = 60s;

/// One training run in progress.
struct run_state {
  train_request req;
  caf::typed_response_promise<train_report> promise;
  uint64_t stream = 0;
  std::deque<data_batch> queue; ///< batches received, not yet trained on
  bool busy = false;            ///< a train job is on the device
  std::vector<data_batch> validation;
  std::optional<model::early_stopping> stopper;
  std::vector<double> window; ///< training losses since the last evaluation
  std::string last_eval;
  int64_t samples = 0;
  uint64_t batches_done = 0; ///< data cursor: batches of the stream consumed
  uint64_t skip = 0;         ///< resumed runs: batches of the stream already trained on
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool finishing = false;
};

struct model_state {
  model::model_spec spec;
  device_actor device;
  std::string device_name;
  std::shared_ptr<engine> eng;
  std::shared_ptr<model::gradient_group> group; ///< data-parallel peers, when joined
  std::optional<run_state> run;
  std::vector<double> losses; ///< loss every 10 steps of the current or last run (dashboard)
  std::string evaluation;     ///< last run's final evaluation (JSON), published as metrics
  static inline const char* name = "llmos.model";
};

using self_ptr = model_actor::stateful_pointer<model_state>;

/// Runs fn(engine) as a job on the model's device; `then` gets its result on the actor.
template <class R, class Fn, class Then>
void on_device(self_ptr self, std::string what, Fn fn, Then then,
               std::function<void(const caf::error&)> fail) {
  auto eng = self->state.eng;
  auto out = std::make_shared<std::optional<R>>();
  device_job job;
  job.what = what;
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      [eng, fn, out](const device_info& d) {
        engine::use_threads(d.threads);
        out->emplace(fn(*eng));
      });
  self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
      .then([out, then](double) mutable { then(std::move(**out)); },
            [fail](caf::error& err) { fail(err); });
}

model_info info_of(self_ptr self) {
  model_info i;
  i.name = self->state.spec.name;
  i.architecture = self->state.spec.architecture;
  i.spec = model::to_yaml(self->state.spec);
  i.device = self->state.device_name;
  i.training = self->state.run.has_value();
  i.losses = self->state.losses;
  i.evaluation = self->state.evaluation;
  if (auto& e = self->state.eng) {
    i.step = e->step();
    i.parameters = e->parameter_count();
    i.quantized = e->quantized();
    if (e->spec().architecture != "gpt") // a language model's data labels mean nothing to it
      i.labels = e->labels().labels();
    i.spec = model::to_yaml(e->spec());
  }
  return i;
}

void progress(self_ptr self, const std::string& stage, uint64_t done, uint64_t total,
              const std::string& message) {
  auto& run = *self->state.run;
  if (!run.req.subscriber)
    return;
  caf::anon_send(run.req.subscriber, progress_atom::value,
                 progress_event{"train " + self->state.spec.name, stage, done, total, message});
}

void finish(self_ptr self, const caf::error& err);
void pump(self_ptr self);

void evaluate_then(self_ptr self, std::function<void()> next) {
  auto& run = *self->state.run;
  auto batches = run.validation;
  on_device<caf::expected<model::eval_report>>(
      self, "evaluate " + self->state.spec.name,
      [batches](engine& e) { return e.evaluate(batches); },
      [self, next](caf::expected<model::eval_report> r) {
        if (!self->state.run)
          return;
        auto& run = *self->state.run;
        if (!r)
          return finish(self, r.error());
        run.last_eval = r->to_json(self->state.eng->labels()).dump();
        run.stopper->update(r->score());
        progress(self, "evaluate", static_cast<uint64_t>(self->state.eng->step()),
                 static_cast<uint64_t>(self->state.eng->spec().max_steps), model::eval_line(*r));
        if (!run.req.checkpoint.empty()) {
          auto path = run.req.checkpoint;
          nlohmann::json cursor{{"batches", run.batches_done}};
          on_device<caf::error>(
              self, "checkpoint " + self->state.spec.name,
              [path, cursor](engine& e) { return e.save(path, cursor); },
              [self, next](caf::error err) {
                if (err)
                  return finish(self, err);
                next();
              },
              [self](const caf::error& err) { finish(self, err); });
          return;
        }
        next();
      },
      [self](const caf::error& err) { finish(self, err); });
}

void finish(self_ptr self, const caf::error& err) {
  if (!self->state.run)
    return;
  auto run = std::move(*self->state.run);
  self->state.run.reset();
  if (run.stream)
    caf::anon_send(caf::actor_cast<dataset_actor>(run.req.dataset), close_stream_atom::value,
                   run.stream);
  if (err) {
    run.promise.deliver(err);
    return;
  }
  train_report rep;
  rep.model = self->state.spec.name;
  rep.steps = self->state.eng->step();
  double sum = 0;
  for (auto l : run.window)
    sum += l;
  rep.loss = run.window.empty() ? 0.0 : sum / static_cast<double>(run.window.size());
  rep.evaluation = run.last_eval;
  self->state.evaluation = run.last_eval;
  rep.stopped_early = run.stopper && run.stopper->should_stop();
  rep.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
  rep.samples_per_second = rep.seconds > 0 ? static_cast<double>(run.samples) / rep.seconds : 0;
  run.promise.deliver(std::move(rep));
}

/// Ends the run after a last evaluation (and checkpoint).
void wrap_up(self_ptr self) {
  auto& run = *self->state.run;
  if (run.finishing)
    return;
  run.finishing = true;
  evaluate_then(self, [self] { finish(self, caf::error{}); });
}

/// Trains on the next queued batch when the device is free.
void pump(self_ptr self) {
  if (!self->state.run)
    return;
  auto& run = *self->state.run;
  if (run.busy || run.finishing || run.stream == 0 || run.queue.empty())
    return;
  auto batch = std::move(run.queue.front());
  run.queue.pop_front();
  if (batch.stream != run.stream)
    return pump(self); // left over from an earlier run's stream
  const bool last = batch.last;
  ++run.batches_done;
  if (run.batches_done <= run.skip) { // resumed: this batch was trained on before the checkpoint
    caf::anon_send(caf::actor_cast<dataset_actor>(run.req.dataset), credit_atom::value, run.stream,
                   uint32_t{1});
    return pump(self);
  }
  run.busy = true;
  on_device<caf::expected<model::step_report>>(
      self, "train step of " + self->state.spec.name,
      [batch](engine& e) { return e.train_step(batch); },
      [self, last](caf::expected<model::step_report> r) {
        if (!self->state.run)
          return;
        auto& run = *self->state.run;
        run.busy = false;
        if (!r)
          return finish(self, r.error());
        caf::anon_send(caf::actor_cast<dataset_actor>(run.req.dataset), credit_atom::value,
                       run.stream, uint32_t{1});
        run.samples += r->samples;
        if (r->samples > 0)
          run.window.push_back(r->loss);
        const auto& spec = self->state.eng->spec();
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
        if (r->stepped && r->step % 10 == 0) {
          model::record_step(self->state.losses, self->state.spec.name, r->step, r->loss,
                             static_cast<double>(run.samples) / std::max(1e-9, elapsed));
          progress(self, "train", static_cast<uint64_t>(r->step),
                   static_cast<uint64_t>(spec.max_steps),
                   model::step_line(*r, run.samples, elapsed, spec.max_steps,
                                    spec.architecture == "gpt"));
        }
        if (r->step >= spec.max_steps || last)
          return wrap_up(self);
        if (r->stepped && spec.eval_every > 0 && r->step % spec.eval_every == 0) {
          run.busy = true;
          evaluate_then(self, [self] {
            if (!self->state.run)
              return;
            auto& run = *self->state.run;
            run.busy = false;
            run.window.clear();
            if (run.stopper->should_stop())
              return wrap_up(self);
            pump(self);
          });
          return;
        }
        pump(self);
      },
      [self](const caf::error& err) { finish(self, err); });
}

/// Reads every validation batch (pull stream), then opens the training stream.
void fetch_validation(self_ptr self, uint64_t stream) {
  auto dataset = caf::actor_cast<dataset_actor>(self->state.run->req.dataset);
  self->request(dataset, data_timeout, next_batch_atom::value, stream)
      .then(
          [self, stream, dataset](data_batch& b) {
            if (!self->state.run)
              return;
            const bool last = b.last;
            if (!b.ids.empty())
              self->state.run->validation.push_back(std::move(b));
            if (!last)
              return fetch_validation(self, stream);
            caf::anon_send(dataset, close_stream_atom::value, stream);
            const auto& spec = self->state.eng->spec();
            stream_request req;
            req.split = "train";
            if (auto& g = self->state.group) {
              req.rank = g->rank();
              req.world = g->world();
            }
            req.batch_size = static_cast<uint32_t>(spec.batch_size);
            req.seed = spec.seed;
            req.credits = 4;
            req.epochs = 1000; // the run ends at max_steps, not with the stream
            req.consumer = caf::actor_cast<caf::actor>(self);
            self->request(dataset, data_timeout, open_stream_atom::value, req)
                .then(
                    [self](uint64_t id) {
                      if (self->state.run)
                        self->state.run->stream = id;
                      progress(self, "train", 0,
                               static_cast<uint64_t>(self->state.eng->spec().max_steps), "started");
                      pump(self);
                    },
                    [self](caf::error& err) { finish(self, err); });
          },
          [self](caf::error& err) { finish(self, err); });
}

/// Builds, loads or re-heads the engine for a run, then starts streaming.
void prepare(self_ptr self, const dataset_stats& stats) {
  auto& run = *self->state.run;
  auto spec = model::apply_overrides(self->state.spec, run.req.overrides);
  if (!spec)
    return finish(self, spec.error());
  auto report = nlohmann::json::parse(stats.report, nullptr, false);
  auto shape = model::shape_from_report(report.is_discarded() ? nlohmann::json{} : report);
  auto labels = model::label_vocab::from_counts(stats.labels);
  auto req = run.req;
  auto holder = std::make_shared<std::shared_ptr<engine>>(self->state.eng);
  auto group = self->state.group;
  device_job job;
  job.what = "prepare " + spec->name;
  auto result = std::make_shared<caf::error>();
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      [holder, result, req, group, s = *spec, shape, labels](const device_info& d) {
        engine::use_threads(d.threads);
        // Whatever engine the run ends up with averages its gradients over the group.
        struct join_on_exit {
          std::shared_ptr<std::shared_ptr<engine>> holder;
          std::shared_ptr<model::gradient_group> group;
          ~join_on_exit() {
            if (*holder && group)
              (*holder)->join(group);
          }
        } joiner{holder, group};
        if (req.resume) {
          auto loaded = engine::load(req.checkpoint);
          if (!loaded) {
            *result = loaded.error();
            return;
          }
          *holder = std::move(*loaded);
          // The checkpoint's spec ends where the first run ended: take this run's fields.
          (*holder)->update_training(s);
          return;
        }
        if (!req.fine_tune.empty()) {
          if (!*holder) {
            *result = make_llmos_error(error_code::bad_params,
                                       "model '" + s.name +
                                           "': fine-tuning needs trained weights (train or load "
                                           "a checkpoint first)");
            return;
          }
          *result = (*holder)->fine_tune(req.fine_tune, s, labels);
          return;
        }
        auto made = engine::create(s, shape, labels);
        if (!made) {
          *result = made.error();
          return;
        }
        *holder = std::move(*made);
      });
  self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
      .then(
          [self, holder, result](double) {
            if (!self->state.run)
              return;
            if (*result)
              return finish(self, *result);
            self->state.eng = *holder;
            auto& run = *self->state.run;
            const auto& spec = self->state.eng->spec();
            run.stopper.emplace(spec.patience, true);
            if (run.req.resume)
              run.skip = self->state.eng->cursor().value("batches", uint64_t{0});
            stream_request req;
            req.split = "validation";
            req.batch_size = 64;
            req.credits = 0;
            self->request(caf::actor_cast<dataset_actor>(run.req.dataset), data_timeout,
                          open_stream_atom::value, req)
                .then([self](uint64_t id) { fetch_validation(self, id); },
                      [self](caf::error& err) { finish(self, err); });
          },
          [self](caf::error& err) { finish(self, err); });
}

model_actor::behavior_type model_behavior(self_ptr self, model::model_spec spec,
                                          device_actor device, std::string device_name) {
  self->state.spec = std::move(spec);
  self->state.device = std::move(device);
  self->state.device_name = std::move(device_name);
  auto refuse_busy = [self]() -> caf::error {
    return make_llmos_error(error_code::bad_params, "model '" + self->state.spec.name +
                                                        "' is training; wait for the run to end");
  };
  auto need_engine = [self]() -> caf::error {
    if (self->state.eng)
      return {};
    return make_llmos_error(error_code::bad_params, "model '" + self->state.spec.name +
                                                        "' has no weights yet: train or load it");
  };
  return {
      [self](info_atom) -> model_info { return info_of(self); },
      [self, refuse_busy](train_atom, train_request& req) -> caf::result<train_report> {
        if (self->state.run)
          return refuse_busy();
        if (!req.dataset)
          return make_llmos_error(error_code::bad_params,
                                  "model '" + self->state.spec.name + "': train needs a dataset");
        if (req.resume && req.checkpoint.empty())
          return make_llmos_error(error_code::bad_params, "model '" + self->state.spec.name +
                                                              "': resume needs a checkpoint path");
        self->state.run.emplace();
        self->state.losses.clear();
        auto& run = *self->state.run;
        run.promise = self->make_response_promise<train_report>();
        run.req = std::move(req);
        self->request(caf::actor_cast<dataset_actor>(run.req.dataset), data_timeout,
                      stats_atom::value)
            .then([self](dataset_stats& stats) { prepare(self, stats); },
                  [self](caf::error& err) { finish(self, err); });
        return run.promise;
      },
      [self](batch_atom, data_batch& b) {
        if (!self->state.run)
          return; // a stream that ended; its last batches may still be in flight
        // The dataset may send the first batches before its answer to open_stream (with the
        // stream's id) arrives here: keep them; pump() drops those of other streams.
        self->state.run->queue.push_back(std::move(b));
        pump(self);
      },
      [self, need_engine](evaluate_atom, caf::actor dataset,
                          std::string split) -> caf::result<std::string> {
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<std::string>();
        stream_request req;
        req.split = split;
        req.batch_size = 64;
        req.credits = 0;
        auto ds = caf::actor_cast<dataset_actor>(dataset);
        auto batches = std::make_shared<std::vector<data_batch>>();
        auto pull = std::make_shared<std::function<void(uint64_t)>>();
        *pull = [self, ds, batches, pull, promise](uint64_t id) mutable {
          self->request(ds, data_timeout, next_batch_atom::value, id)
              .then(
                  [self, ds, batches, pull, promise, id](data_batch& b) mutable {
                    const bool last = b.last;
                    if (!b.ids.empty())
                      batches->push_back(std::move(b));
                    if (!last)
                      return (*pull)(id);
                    *pull = nullptr; // break the self-reference
                    on_device<caf::expected<model::eval_report>>(
                        self, "evaluate", [batches](engine& e) { return e.evaluate(*batches); },
                        [self, promise](caf::expected<model::eval_report> r) mutable {
                          if (!r) {
                            promise.deliver(r.error());
                            return;
                          }
                          promise.deliver(r->to_json(self->state.eng->labels()).dump());
                        },
                        [promise](const caf::error& err) mutable { promise.deliver(err); });
                  },
                  [promise](caf::error& err) mutable { promise.deliver(err); });
        };
        self->request(ds, data_timeout, open_stream_atom::value, req)
            .then([pull](uint64_t id) { (*pull)(id); },
                  [promise](caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, need_engine](infer_atom,
                          tensor_bytes& in) -> caf::result<std::vector<prediction_item>> {
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<std::vector<prediction_item>>();
        on_device<caf::expected<std::vector<model::prediction>>>(
            self, "infer", [in](engine& e) { return e.infer(in); },
            [promise](caf::expected<std::vector<model::prediction>> r) mutable {
              if (!r) {
                promise.deliver(r.error());
                return;
              }
              std::vector<prediction_item> out;
              for (auto& p : *r)
                out.push_back({p.label, p.confidence});
              promise.deliver(std::move(out));
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, need_engine](generate_atom,
                          generate_request& req) -> caf::result<std::vector<int32_t>> {
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<std::vector<int32_t>>();
        model::sampling_params p{req.temperature, req.top_k, req.top_p};
        on_device<caf::expected<std::vector<int32_t>>>(
            self, "generate",
            [req, p](engine& e) {
              return e.generate(req.prompt, req.max_tokens, p, req.seed, [&req](int32_t t) {
                if (req.subscriber)
                  caf::anon_send(req.subscriber, token_atom::value, req.request, t);
                return true;
              });
            },
            [promise](caf::expected<std::vector<int32_t>> r) mutable {
              if (!r) {
                promise.deliver(r.error());
                return;
              }
              promise.deliver(std::move(*r));
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, need_engine](save_atom, std::string path) -> caf::result<std::string> {
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<std::string>();
        on_device<caf::error>(
            self, "save", [path](engine& e) { return e.save(path); },
            [promise, path](caf::error err) mutable {
              if (err) {
                promise.deliver(err);
                return;
              }
              promise.deliver(path);
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, refuse_busy](load_atom, std::string path) -> caf::result<model_info> {
        if (self->state.run)
          return refuse_busy();
        auto promise = self->make_response_promise<model_info>();
        auto holder = std::make_shared<caf::expected<std::unique_ptr<engine>>>(caf::error{});
        device_job job;
        job.what = "load " + path;
        job.run = std::make_shared<std::function<void(const device_info&)>>(
            [holder, path](const device_info& d) {
              engine::use_threads(d.threads);
              *holder = engine::load(path);
            });
        self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
            .then(
                [self, holder, promise](double) mutable {
                  if (!*holder) {
                    promise.deliver(holder->error());
                    return;
                  }
                  self->state.eng = std::move(**holder);
                  self->state.spec = self->state.eng->spec();
                  promise.deliver(info_of(self));
                },
                [promise](caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, refuse_busy](dp_join_atom, uint32_t rank, uint32_t world, std::string host,
                          uint16_t port, std::string bind) -> caf::result<uint16_t> {
        if (self->state.run)
          return refuse_busy();
        auto g = model::gradient_group::open(host, port, rank, world, bind.empty() ? host : bind);
        if (!g)
          return std::move(g.error());
        self->state.group = std::move(*g);
        return self->state.group->store_port();
      },
      [self, need_engine, refuse_busy](quantize_atom) -> caf::result<model_info> {
        if (self->state.run)
          return refuse_busy();
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<model_info>();
        on_device<caf::error>(
            self, "quantize", [](engine& e) { return e.quantize_int8(); },
            [self, promise](caf::error err) mutable {
              if (err) {
                promise.deliver(err);
                return;
              }
              promise.deliver(info_of(self));
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self, need_engine, refuse_busy](export_atom) -> caf::result<model_package> {
        if (self->state.run)
          return refuse_busy();
        if (auto err = need_engine())
          return err;
        auto promise = self->make_response_promise<model_package>();
        on_device<caf::expected<std::string>>(
            self, "export", [](engine& e) { return model::checkpoint_bytes(e); },
            [self, promise](caf::expected<std::string> bytes) mutable {
              if (!bytes) {
                promise.deliver(bytes.error());
                return;
              }
              promise.deliver(
                  model_package{std::move(*bytes), "", model::to_yaml(self->state.eng->spec())});
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
  };
}

} // namespace

model_actor spawn_model(caf::actor_system& system, model::model_spec spec, device_actor device,
                        std::string device_name) {
  return system.spawn(model_behavior, std::move(spec), std::move(device), std::move(device_name));
}

} // namespace llmos
