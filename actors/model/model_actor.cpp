#include "model/model_actor.hpp"
#include "model/model_state.hpp"

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

using namespace model;

caf::error refuse_busy(self_ptr self) {
  return make_llmos_error(error_code::bad_params, "model '" + self->state.spec.name +
                                                      "' is training; wait for the run to end");
}

caf::error need_engine(self_ptr self) {
  if (self->state.eng)
    return {};
  return make_llmos_error(error_code::bad_params, "model '" + self->state.spec.name +
                                                      "' has no weights yet: train or load it");
}

/// Runs `fn` (engine& -> caf::expected<Value>) as a job on the model's device for a request;
/// the reply is what `reply` makes of its value, or its error.
template <class Reply, class Value, class Fn, class Make>
caf::result<Reply> reply_on_device(self_ptr self, std::string what, Fn fn, Make reply) {
  auto promise = self->make_response_promise<Reply>();
  on_device<caf::expected<Value>>(
      self, std::move(what), std::move(fn),
      [promise, reply](caf::expected<Value> r) mutable {
        if (!r)
          promise.deliver(r.error());
        else
          promise.deliver(reply(std::move(*r)));
      },
      [promise](const caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<train_report> on_train(self_ptr self, train_request& req) {
  if (self->state.run)
    return refuse_busy(self);
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
  self->request(caf::actor_cast<dataset_actor>(run.req.dataset), data_timeout, stats_atom::value)
      .then([self](dataset_stats& stats) { prepare(self, stats); },
            [self](caf::error& err) { finish(self, err); });
  return run.promise;
}

bool on_stop(self_ptr self) {
  if (!self->state.run)
    return false;
  auto& run = *self->state.run;
  run.preempt = true;
  if (run.stream == 0 && !run.finishing) { // still preparing: nothing trained to keep
    run.preempted = true;
    finish(self, caf::error{});
  } else {
    pump(self);
  }
  return true;
}

void on_batch(self_ptr self, data_batch& b) {
  if (!self->state.run)
    return; // a stream that ended; its last batches may still be in flight
  // The dataset may send the first batches before its answer to open_stream (with the stream's
  // id) arrives here: keep them; pump() drops those of other streams.
  self->state.run->queue.push_back(std::move(b));
  pump(self);
}

/// The evaluation of the batches a split streamed, on the device.
void evaluate_batches(self_ptr self, std::shared_ptr<std::vector<data_batch>> batches,
                      caf::typed_response_promise<std::string> promise) {
  on_device<caf::expected<model::eval_report>>(
      self, "evaluate", [batches](engine& e) { return e.evaluate(*batches); },
      [self, promise](caf::expected<model::eval_report> r) mutable {
        if (!r)
          promise.deliver(r.error());
        else
          promise.deliver(r->to_json(self->state.eng->labels()).dump());
      },
      [promise](const caf::error& err) mutable { promise.deliver(err); });
}

caf::result<std::string> on_evaluate(self_ptr self, caf::actor dataset, std::string split) {
  if (auto err = need_engine(self))
    return err;
  auto promise = self->make_response_promise<std::string>();
  stream_request req;
  req.split = split;
  req.batch_size = 64;
  req.credits = 0;
  auto ds = caf::actor_cast<dataset_actor>(dataset);
  auto batches = std::make_shared<std::vector<data_batch>>();
  // Pulls the split's batches one by one; the last one starts the evaluation.
  auto pull = std::make_shared<std::function<void(uint64_t)>>();
  *pull = [self, ds, batches, pull, promise](uint64_t id) mutable {
    self->request(ds, data_timeout, next_batch_atom::value, id)
        .then(
            [self, batches, pull, promise, id](data_batch& b) mutable {
              const bool last = b.last;
              if (!b.ids.empty())
                batches->push_back(std::move(b));
              if (!last)
                return (*pull)(id);
              *pull = nullptr; // break the self-reference
              evaluate_batches(self, batches, promise);
            },
            [promise](caf::error& err) mutable { promise.deliver(err); });
  };
  self->request(ds, data_timeout, open_stream_atom::value, req)
      .then([pull](uint64_t id) { (*pull)(id); },
            [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<std::vector<prediction_item>> on_infer(self_ptr self, tensor_bytes& in) {
  if (auto err = need_engine(self))
    return err;
  return reply_on_device<std::vector<prediction_item>, std::vector<model::prediction>>(
      self, "infer", [in](engine& e) { return e.infer(in); },
      [](std::vector<model::prediction> predictions) {
        std::vector<prediction_item> out;
        for (auto& p : predictions)
          out.push_back({p.label, p.confidence});
        return out;
      });
}

caf::result<std::vector<int32_t>> on_generate(self_ptr self, generate_request& req) {
  if (auto err = need_engine(self))
    return err;
  // One promise for every path: CAF 0.17 takes the request's response id with the first
  // make_response_promise, so a later plain return would answer nobody.
  auto promise = self->make_response_promise<std::vector<int32_t>>();
  // Language models that the fused kernel runs join the continuous batch; the others (gpt,
  // adapters, int8) generate one request at a time.
  if (!self->state.run && enqueue_generate(self, req, promise))
    return promise;
  if (!req.adapter.empty() || req.logprobs >= 0) {
    promise.deliver(make_llmos_error(
        error_code::bad_params,
        "model '" + self->state.spec.name +
            "': " + (req.adapter.empty() ? "logprobs need" : "adapters are served by") +
            " llama models that batch continuously (float32, adapters merged)"));
    return promise;
  }
  const auto p = sampling_of(req);
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
        if (!r)
          promise.deliver(r.error());
        else
          promise.deliver(std::move(*r));
      },
      [promise](const caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<std::string> on_save(self_ptr self, std::string path) {
  if (auto err = need_engine(self))
    return err;
  return reply_on_device<std::string, std::string>(
      self, "save",
      [path](engine& e) -> caf::expected<std::string> {
        if (auto err = e.save(path))
          return err;
        return path;
      },
      [](std::string saved) { return saved; });
}

caf::result<model_info> on_load(self_ptr self, std::string path) {
  if (self->state.run)
    return refuse_busy(self);
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
            self->state.adapters.clear(); // they were taken over the old weights
            promise.deliver(info_of(self));
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<model_info> on_adapter(self_ptr self, std::string name, std::string path) {
  if (auto err = need_engine(self))
    return err;
  if (name.empty() || name.size() > 256)
    return make_llmos_error(error_code::bad_params,
                            "model '" + self->state.spec.name +
                                "': an adapter needs a name of 1 to 256 characters");
  if (self->state.adapters.size() >= 64 && !self->state.adapters.count(name))
    return make_llmos_error(error_code::bad_params,
                            "model '" + self->state.spec.name +
                                "': 64 adapters at most (unload some by loading the model)");
  using adapter_ptr = std::shared_ptr<const model::lora_adapter>;
  // The fine-tune is loaded on the device and its adapters copied out; its engine (with its
  // own copy of the base weights) is dropped there.
  return reply_on_device<model_info, adapter_ptr>(
      self, "adapter " + name,
      [name, path](engine& base) -> caf::expected<adapter_ptr> {
        auto tuned = engine::load(path);
        if (!tuned)
          return std::move(tuned.error());
        return model::lora_adapter::extract(base, **tuned, name);
      },
      [self, name](adapter_ptr a) {
        self->state.adapters[name] = std::move(a);
        // A replaced adapter: later requests take the new one (a new decoder index).
        self->state.decoding.adapter_index.erase(name);
        return info_of(self);
      });
}

caf::result<uint16_t> on_dp_join(self_ptr self, uint32_t rank, uint32_t world,
                                 const std::string& host, uint16_t port, const std::string& bind,
                                 const std::string& backend) {
  if (self->state.run)
    return refuse_busy(self);
  auto g = model::gradient_group::open(host, port, rank, world, bind.empty() ? host : bind,
                                       model::gradient_group::default_timeout_ms,
                                       backend.empty() ? "auto" : backend);
  if (!g)
    return std::move(g.error());
  self->state.group = std::move(*g);
  return self->state.group->store_port();
}

caf::result<model_info> on_quantize(self_ptr self) {
  if (self->state.run)
    return refuse_busy(self);
  if (auto err = need_engine(self))
    return err;
  return reply_on_device<model_info, bool>(
      self, "quantize",
      [](engine& e) -> caf::expected<bool> {
        if (auto err = e.quantize_int8())
          return err;
        return true;
      },
      [self](bool) { return info_of(self); });
}

caf::result<model_package> on_export(self_ptr self) {
  if (self->state.run)
    return refuse_busy(self);
  if (auto err = need_engine(self))
    return err;
  return reply_on_device<model_package, std::string>(
      self, "export", [](engine& e) { return model::checkpoint_bytes(e); },
      [self](std::string bytes) {
        return model_package{std::move(bytes), "", model::to_yaml(self->state.eng->spec())};
      });
}

model_actor::behavior_type model_behavior(self_ptr self, model::model_spec spec,
                                          device_actor device, std::string device_name,
                                          model::decoder_config decoding, std::size_t max_waiting) {
  self->state.spawned = spec;
  self->state.spec = std::move(spec);
  self->state.decoding.cfg = decoding;
  self->state.decoding.max_waiting = max_waiting;
  self->state.device = std::move(device);
  self->state.device_name = std::move(device_name);
  return {
      [self](info_atom) -> model_info { return info_of(self); },
      [self](train_atom, train_request& req) { return on_train(self, req); },
      [self](stop_atom) { return on_stop(self); },
      [self](batch_atom, data_batch& b) { on_batch(self, b); },
      [self](evaluate_atom, caf::actor dataset, std::string split) {
        return on_evaluate(self, std::move(dataset), std::move(split));
      },
      [self](infer_atom, tensor_bytes& in) { return on_infer(self, in); },
      [self](generate_atom, generate_request& req) { return on_generate(self, req); },
      [self](cancel_atom, uint64_t request) { return model::cancel_generate(self, request); },
      [self](priority_atom, uint64_t request, int32_t priority) {
        return model::prioritise_generate(self, request, priority);
      },
      [self](sequences_atom) { return model::generations(self); },
      [self](save_atom, std::string path) { return on_save(self, std::move(path)); },
      [self](load_atom, std::string path) { return on_load(self, std::move(path)); },
      [self](adapter_atom, std::string name, std::string path) {
        return on_adapter(self, std::move(name), std::move(path));
      },
      [self](dp_join_atom, uint32_t rank, uint32_t world, std::string host, uint16_t port,
             std::string bind, std::string backend) {
        return on_dp_join(self, rank, world, host, port, bind, backend);
      },
      [self](quantize_atom) { return on_quantize(self); },
      [self](export_atom) { return on_export(self); },
  };
}

} // namespace

model_actor spawn_model(caf::actor_system& system, model::model_spec spec, device_actor device,
                        std::string device_name, const model::decoder_config& decoding,
                        std::size_t max_waiting) {
  return system.spawn(model_behavior, std::move(spec), std::move(device), std::move(device_name),
                      decoding, max_waiting);
}

} // namespace llmos
