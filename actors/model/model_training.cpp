#include <nlohmann/json.hpp>

#include "device/device_actor.hpp"
#include "llmos/messages/error.hpp"
#include "model/model_metrics.hpp"
#include "model/model_state.hpp"
#include "model/progress_text.hpp"

namespace llmos::model {

model_info info_of(self_ptr self) {
  model_info i;
  i.name = self->state.spec.name;
  i.architecture = self->state.spec.architecture;
  i.spec = model::to_yaml(self->state.spec);
  i.device = self->state.device_name;
  i.training = self->state.run.has_value();
  i.losses = self->state.losses;
  i.evaluation = self->state.evaluation;
  for (const auto& [name, a] : self->state.adapters)
    i.adapters.push_back(name);
  if (auto& e = self->state.eng) {
    i.step = e->step();
    i.parameters = e->parameter_count();
    i.quantized = e->quantized();
    if (!model::is_language_model(
            e->spec().architecture)) // a language model's data labels mean nothing to it
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
              [self](const caf::error& err) { finish(self, err); }, false);
          return;
        }
        next();
      },
      [self](const caf::error& err) { finish(self, err); }, false);
}

void finish(self_ptr self, const caf::error& err) {
  if (!self->state.run)
    return;
  const bool preempted = self->state.run->preempted;
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
  rep.steps = self->state.eng ? self->state.eng->step() : 0; // none yet when preempted early
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
  rep.preempted = preempted;
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

/// Preemption: checkpoint where the run stands (no evaluation: the scheduler wants the device
/// back) and end it; the resumed run continues from this step and data cursor.
void preempt_now(self_ptr self) {
  auto& run = *self->state.run;
  run.finishing = true;
  run.preempted = true;
  if (run.req.checkpoint.empty() || !self->state.eng)
    return finish(self, caf::error{});
  auto path = run.req.checkpoint;
  nlohmann::json cursor{{"batches", run.batches_done}};
  on_device<caf::error>(
      self, "checkpoint " + self->state.spec.name,
      [path, cursor](engine& e) { return e.save(path, cursor); },
      [self](caf::error err) { finish(self, err); },
      [self](const caf::error& err) { finish(self, err); }, false);
}

/// Trains on the next queued batch when the device is free.
/// A train step's report: credit the stream, record and report progress, then evaluate, wrap
/// up or take the next batch.
void stepped(self_ptr self, bool last, caf::expected<model::step_report> r) {
  if (!self->state.run)
    return;
  auto& run = *self->state.run;
  run.busy = false;
  if (!r)
    return finish(self, r.error());
  caf::anon_send(caf::actor_cast<dataset_actor>(run.req.dataset), credit_atom::value, run.stream,
                 uint32_t{1});
  run.samples += r->samples;
  if (r->samples > 0)
    run.window.push_back(r->loss);
  const auto& spec = self->state.eng->spec();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
  if (r->stepped && r->step % 10 == 0) {
    model::record_step(self->state.losses, self->state.spec.name, r->step, r->loss,
                       static_cast<double>(run.samples) / std::max(1e-9, elapsed));
    progress(self, "train", static_cast<uint64_t>(r->step), static_cast<uint64_t>(spec.max_steps),
             model::step_line(*r, run.samples, elapsed, spec.max_steps,
                              model::is_language_model(spec.architecture)));
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
}

void pump(self_ptr self) {
  if (!self->state.run)
    return;
  auto& run = *self->state.run;
  if (run.preempt && !run.busy && !run.finishing && run.stream != 0)
    return preempt_now(self);
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
      [self, last](caf::expected<model::step_report> r) { stepped(self, last, std::move(r)); },
      [self](const caf::error& err) { finish(self, err); }, false);
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

/// The engine a run trains: loaded from its checkpoint (resume), the current one re-headed
/// (fine_tune), or a new one. Runs on the device's thread.
caf::error build_engine(std::shared_ptr<engine>& holder, const train_request& req,
                        const model::model_spec& s, const model::data_shape& shape,
                        const model::label_vocab& labels) {
  if (req.resume) {
    auto loaded = engine::load(req.checkpoint);
    if (!loaded)
      return loaded.error();
    holder = std::move(*loaded);
    // The checkpoint's spec ends where the first run ended: take this run's fields.
    holder->update_training(s);
    return caf::none;
  }
  if (!req.fine_tune.empty()) {
    if (!holder)
      return make_llmos_error(error_code::bad_params,
                              "model '" + s.name +
                                  "': fine-tuning needs trained weights (train or load a "
                                  "checkpoint first)");
    return holder->fine_tune(req.fine_tune, s, labels);
  }
  auto made = engine::create(s, shape, labels);
  if (!made)
    return made.error();
  holder = std::move(*made);
  return caf::none;
}

/// The engine is ready: open the validation stream (read whole first, fetch_validation).
void open_validation(self_ptr self) {
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
}

/// Builds, loads or re-heads the engine for a run, then starts streaming.
void prepare(self_ptr self, const dataset_stats& stats) {
  auto& run = *self->state.run;
  // A fine-tune keeps the loaded network's shape (engine::fine_tune) and trains as this actor
  // was told to: an imported checkpoint (llama2.c's stories260K) carries the spec's defaults, not
  // the loop's.
  const auto& base = run.req.fine_tune.empty() ? self->state.spec : self->state.spawned;
  auto spec = model::apply_overrides(base, run.req.overrides);
  if (!spec)
    return finish(self, spec.error());
  auto report = nlohmann::json::parse(stats.report, nullptr, false);
  auto shape = model::shape_from_report(report.is_discarded() ? nlohmann::json{} : report);
  auto labels = model::label_vocab::from_counts(stats.labels);
  auto holder = std::make_shared<std::shared_ptr<engine>>(self->state.eng);
  device_job job;
  job.what = "prepare " + spec->name;
  auto result = std::make_shared<caf::error>();
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      [holder, result, req = run.req, group = self->state.group, s = *spec, shape,
       labels](const device_info& d) {
        engine::use_threads(d.threads);
        *result = build_engine(*holder, req, s, shape, labels);
        // Whatever engine the run ends up with averages its gradients over the group.
        if (*holder && group)
          (*holder)->join(group);
      });
  self->request(self->state.device, caf::infinite, run_job_atom::value, std::move(job))
      .then(
          [self, holder, result](double) {
            if (!self->state.run)
              return;
            if (*result)
              return finish(self, *result);
            self->state.eng = *holder;
            open_validation(self);
          },
          [self](caf::error& err) { finish(self, err); });
}

} // namespace llmos::model
