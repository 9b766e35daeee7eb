// Continuous batching for a llama network: sequences are admitted at any time, and every step()
// first prefills what newly admitted sequences still need (at most `prefill_chunk` prompt tokens
// per step, so a long prompt never stalls the sequences already decoding), then runs ONE decode
// step for every running sequence together through the fused kernel (each weight row applied to
// all of them while it is in cache). Finished sequences leave at once and free their cache;
// cancel() frees a sequence before the next step. Each sequence samples with its own generator
// from its own seed, and the kernel gives an item the same logits alone or in a batch, so a
// sequence's tokens are exactly what engine::generate gives it alone. Torch-free header; used
// from one thread at a time (the device's), like the engine it borrows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "model/core/sampling.hpp"

namespace llmos::model {

class engine;

/// What a caller asks of one sequence.
struct sequence_request {
  std::vector<int32_t> prompt; ///< token ids (BOS is prepended when the model has one)
  int64_t max_new = 32;
  sampling_params sampling;
  uint64_t seed = 1;
};

/// One event of a step: a token a sequence made, and whether (and why) the sequence ended.
struct sequence_event {
  uint64_t id = 0;
  int32_t token = -1; ///< -1 when the sequence ended without a new token (EOS, context)
  bool finished = false;
  std::string reason; ///< "stop" (EOS), "length" (max_new or the context), when finished
};

class batch_decoder {
public:
  /// A decoder over `e`'s llama network; bad_params for other architectures or a network the
  /// fused kernel cannot run (int8, unmerged LoRA, bf16).
  static caf::expected<std::unique_ptr<batch_decoder>> create(engine& e,
                                                              int64_t prefill_chunk = 64);
  ~batch_decoder();

  /// Queues a sequence; bad_params for a prompt token outside the vocabulary, a prompt that
  /// fills the context, or bad sampling parameters.
  caf::expected<uint64_t> admit(const sequence_request& req);

  /// Prefill chunks, then one decode step of every sequence that has its prompt in the cache.
  caf::expected<std::vector<sequence_event>> step();

  /// Drops a sequence and its cache; false when it is unknown (finished or never admitted).
  bool cancel(uint64_t id);

  /// Sequences admitted and not finished.
  std::size_t active() const;

  /// Sequences that decoded in the last step (the batch size of its decode).
  std::size_t last_batch() const;

private:
  struct impl;
  explicit batch_decoder(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace llmos::model
