// The device's side of a decode job (decode_step.hpp).
#include "model/decode_step.hpp"

#include <algorithm>

#include "llmos/kernels/cuda_stream.hpp"

namespace llmos::model {

void step_job::operator()(const device_info& d) const {
  model::engine::use_threads(d.threads);
  // The engine computes where its device is, under the device's stream; a decoder made
  // before the model's first job there follows it (its weights and pool move with it).
  const model::engine::stream_scope on_stream(kernels::current_job_streams().compute, d.cuda_index);
  caf::error err = eng->place(d.type, d.cuda_index);
  if (!err)
    err = decoder->follow(*eng);
  if (err) {
    result->admitted.assign(admits->size(), err);
    result->events = std::move(err);
    return;
  }
  for (auto id : cancels)
    decoder->cancel(id);
  for (auto [id, priority] : priorities)
    decoder->set_priority(id, priority);
  // Indices follow the order they were handed out in (a failure leaves a gap: the sequences
  // that name it are refused by admit).
  for (const auto& a : adapters)
    (void)decoder->add_adapter(a);
  for (auto& a : *admits)
    result->admitted.push_back(decoder->admit(a));
  // Copied when the job ends, however it ends.
  struct snapshot {
    model::batch_decoder& d;
    step_result& r;
    ~snapshot() {
      r.sequences = d.sequences();
      r.stats = d.stats();
    }
  } snap{*decoder, *result};
  result->events = steps();
}

caf::expected<std::vector<model::sequence_event>> step_job::steps() const {
  const auto start = std::chrono::steady_clock::now();
  std::vector<model::sequence_event> all;
  for (;;) {
    auto events = decoder->step();
    if (!events)
      return std::move(events.error());
    result->widest = std::max(result->widest, decoder->last_batch());
    bool ended = false;
    for (auto& ev : *events) {
      ended = ended || ev.finished;
      all.push_back(ev);
    }
    if (ended || decoder->active() == 0 || std::chrono::steady_clock::now() - start >= step_budget)
      return all;
  }
}

} // namespace llmos::model
