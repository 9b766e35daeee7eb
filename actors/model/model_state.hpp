// The model actor's state and its training run, shared by model_actor.cpp (the conversation)
// and model_training.cpp (a run: engine preparation, validation data, the training stream,
// evaluations, checkpoints, preemption). Private to the model actor.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <caf/typed_event_based_actor.hpp>

#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model.hpp"
#include "model/core/early_stopping.hpp"
#include "model/core/model_spec.hpp"
#include "model/decode_loop.hpp"
#include "model/train/engine.hpp"
#include "model/train/gradient_group.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {

using namespace std::chrono_literals;
using model::engine;

constexpr auto data_timeout = 60s;

/// Requests' jobs a model may have waiting on its device; beyond it a request is refused
/// overloaded. A device's mailbox has no bound of its own, and a client's burst of predictions
/// must not fill it (a training run's own steps are never refused: one is in flight at a time).
constexpr uint64_t max_jobs_waiting = 256;

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
  bool preempt = false;   ///< stop_atom arrived: checkpoint and end at the next step boundary
  bool preempted = false; ///< the run ends because of it (not because it was done anyway)
};

struct model_state {
  model::model_spec spec;
  /// The spec the actor was spawned with. Loading weights takes their spec (shape and how they
  /// were trained); a fine-tune of loaded weights trains by this one's train section.
  model::model_spec spawned;
  device_actor device;
  std::string device_name;
  std::shared_ptr<engine> eng;
  std::shared_ptr<model::gradient_group> group; ///< data-parallel peers, when joined
  std::optional<run_state> run;
  std::vector<double> losses; ///< loss every 10 steps of the current or last run (dashboard)
  std::string evaluation;     ///< last run's final evaluation (JSON), published as metrics
  uint64_t jobs_waiting = 0;  ///< requests' jobs sent to the device and not yet answered
  decode_loop decoding;       ///< continuous batching of generate requests (llama)
  /// Fine-tunes served as adapters over `eng` (dropped when another engine is loaded).
  std::map<std::string, std::shared_ptr<const model::lora_adapter>> adapters;
  static inline const char* name = "llmos.model";
};

using self_ptr = model_actor::stateful_pointer<model_state>;

/// Runs fn(engine) as a job on the model's device; `then` gets its result on the actor. A
/// request's job (`bounded`) is refused overloaded while max_jobs_waiting wait already.
template <class R, class Fn, class Then>
void on_device(self_ptr self, std::string what, Fn fn, Then then,
               std::function<void(const caf::error&)> fail, bool bounded = true) {
  auto& st = self->state;
  if (bounded && st.jobs_waiting >= max_jobs_waiting) {
    fail(make_llmos_error(error_code::overloaded,
                          "model '" + st.spec.name + "': " + std::to_string(st.jobs_waiting) +
                              " jobs wait for device '" + st.device_name + "'; retry later"));
    return;
  }
  auto eng = st.eng;
  auto out = std::make_shared<std::optional<R>>();
  device_job job;
  job.what = what;
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      [eng, fn, out](const device_info& d) {
        engine::use_threads(d.threads);
        // The engine computes where its device is (a GPU device's jobs run on that GPU), under
        // the device's own stream.
        const engine::stream_scope on_stream(kernels::current_job_streams().compute, d.cuda_index);
        if (auto err = eng->place(d.type, d.cuda_index)) {
          out->emplace(std::move(err));
          return;
        }
        out->emplace(fn(*eng));
      });
  if (bounded)
    ++st.jobs_waiting;
  self->request(st.device, caf::infinite, run_job_atom::value, std::move(job))
      .then(
          [self, bounded, out, then](double) mutable {
            self->state.jobs_waiting -= bounded ? 1 : 0;
            then(std::move(**out));
          },
          [self, bounded, fail](caf::error& err) {
            self->state.jobs_waiting -= bounded ? 1 : 0;
            fail(err);
          });
}

/// What the model is, for info and publishing.
model_info info_of(self_ptr self);

/// Ends the run: the train request is answered with the report, or with `err`.
void finish(self_ptr self, const caf::error& err);

/// Trains on the next queued batch when the device is free (or preempts, or wraps up).
void pump(self_ptr self);

/// Queues a generate request for continuous batching; false when the engine cannot batch (not a
/// llama network, adapters, int8): the caller generates it alone. A full queue answers
/// overloaded.
bool enqueue_generate(self_ptr self, generate_request& req,
                      caf::typed_response_promise<std::vector<int32_t>> promise);

/// A generate request's sampling parameters (bias pairs past the shorter list are dropped).
inline model::sampling_params sampling_of(const generate_request& r) {
  model::sampling_params p;
  p.temperature = r.temperature;
  p.top_k = r.top_k;
  p.top_p = r.top_p;
  p.presence_penalty = r.presence_penalty;
  p.frequency_penalty = r.frequency_penalty;
  for (std::size_t i = 0; i < r.bias_tokens.size() && i < r.bias_values.size(); ++i)
    p.logit_bias.emplace_back(r.bias_tokens[i], r.bias_values[i]);
  return p;
}

/// Ends the generation of request `request`: answered at once with its tokens so far, its
/// sequence dropped from the decoder at the next job; false when no generation has that number.
bool cancel_generate(self_ptr self, uint64_t request);

/// Sets the priority of request `request`'s generation; false when none has that number.
bool prioritise_generate(self_ptr self, uint64_t request, int32_t priority);

/// The generations the actor holds: queued ones, then the decoder's in schedule order.
std::vector<sequence_row> generations(self_ptr self);

/// Builds, loads or re-heads the engine for a run, then starts streaming.
void prepare(self_ptr self, const dataset_stats& stats);

} // namespace llmos::model
