// The model actor's continuous batching for language models: generate requests wait in a
// bounded queue; while any sequence is active, one device job after another admits the waiting
// requests into a batch_decoder and runs steps for every sequence together (several per job
// while no sequence ends, up to 2 ms: a job hand-off costs more than a small model's step).
// Tokens stream to each request's subscriber after each job, and a request is answered the
// moment its sequence ends. The engine a busy period started with stays alive until its sequences
// end, so a `load` meanwhile never pulls weights from under the kernel; the decoder is rebuilt at
// the start of the next busy period (it then sees the new engine, or adapters that rule the kernel
// out and send requests back to one-at-a-time generation).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>

#include <caf/typed_response_promise.hpp>

#include "llmos/messages/model.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::modelrt {

/// One request in the loop.
struct decode_request {
  generate_request req;
  caf::typed_response_promise<std::vector<int32_t>> promise;
  std::vector<int32_t> out;
};

struct decode_loop {
  std::shared_ptr<model::engine> eng; ///< the engine of the current busy period
  std::shared_ptr<model::batch_decoder> decoder;
  std::deque<decode_request> waiting;         ///< not yet admitted
  std::map<uint64_t, decode_request> running; ///< by decoder sequence id
  bool busy = false;                          ///< a step is on the device
  std::size_t max_waiting = 256;              ///< beyond it: overloaded
  uint64_t steps = 0;
  uint64_t batched_tokens = 0; ///< tokens made by steps of two or more sequences
};

} // namespace llmos::modelrt
