// The model actor's continuous batching for language models: generate requests wait in a
// bounded queue; while any sequence is active, one device job after another admits the waiting
// requests into a batch_decoder (paged KV cache, priorities, preemption) and runs steps for every
// sequence together (several per job while no sequence ends, up to 2 ms: a job hand-off costs
// more than a small model's step). Cancellations and priority changes reach the decoder at the
// start of the next job (within one step); a cancelled request is answered at once with the
// tokens it has. The decoder's sequences and counters are copied after each job, for
// `sequences` and the metrics.
// Tokens stream to each request's subscriber after each job, and a request is answered the
// moment its sequence ends. The engine a busy period started with stays alive until its sequences
// end, so a `load` meanwhile never pulls weights from under the kernel; the decoder is rebuilt at
// the start of the next busy period (it then sees the new engine, or adapters that rule the kernel
// out and send requests back to one-at-a-time generation).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "llmos/messages/model.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {

/// One request in the loop.
struct decode_request {
  generate_request req;
  caf::typed_response_promise<std::vector<int32_t>> promise;
  std::vector<int32_t> out;
  std::chrono::steady_clock::time_point queued = std::chrono::steady_clock::now();
  bool cancelled = false;     ///< answered while its admission was on the device
  bool reprioritised = false; ///< its priority changed while its admission was on the device
};

struct decode_loop {
  model::decoder_config cfg;          ///< the KV cache and prefill of every busy period
  std::shared_ptr<model::engine> eng; ///< the engine of the current busy period
  std::shared_ptr<model::batch_decoder> decoder;
  std::deque<decode_request> waiting;         ///< not yet admitted
  std::map<uint64_t, decode_request> running; ///< by decoder sequence id
  /// Handed to the job on the device, which admits them: a cancel or a priority meanwhile is
  /// noted here and reaches the decoder with the next job.
  std::vector<decode_request> admitting;
  bool busy = false; ///< a step is on the device
  /// Requests queued or filling their prompt at most; beyond it: overloaded (HTTP 429).
  std::size_t max_waiting = 256;
  std::vector<uint64_t> cancels;                        ///< decoder ids, for the next job
  std::vector<std::pair<uint64_t, int32_t>> priorities; ///< decoder id, new priority
  std::vector<model::sequence_info> sequences;          ///< as of the last job
  model::decoder_stats stats;                           ///< as of the last job
  uint64_t steps = 0;
  uint64_t batched_tokens = 0; ///< tokens made by steps of two or more sequences
  uint64_t cancelled = 0;
  /// Adapters of this busy period's decoder by name (their decoder index), and those the next
  /// job adds to it (in index order).
  std::map<std::string, int32_t> adapter_index;
  std::vector<std::shared_ptr<const model::lora_adapter>> new_adapters;
  int32_t adapters_added = 0; ///< indices handed out in this busy period
};

} // namespace llmos::model
