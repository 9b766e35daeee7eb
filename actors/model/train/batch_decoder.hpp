// Continuous batching over a paged KV cache for a llama network. Sequences are admitted at any
// time; each step() first samples the next token of every sequence whose logits are ready, then
// runs ONE call of the fused kernel over every sequence with work: one position for each decoding
// sequence and up to `prefill_chunk` prompt positions in all for sequences still filling (so a
// long prompt never stalls the ones already decoding). Finished sequences leave at once and
// release their blocks; cancel() frees one before the next step.
//
// Keys and values live in fixed-size blocks of a pool (kv_block_pool): a sequence holds only the
// blocks its length needs, and blocks full of a prompt prefix another sequence already computed
// are shared (prefix caching). When the pool runs dry, sequences are preempted in schedule order
// from the back: the lowest priority, and among equals the most recently admitted. A preempted
// sequence's blocks are either dropped (recomputed when it resumes, cheaply where its prefix is
// still cached) or copied to host memory and back (`swap`, within a bounded host space, else
// recomputed; on a GPU through pinned memory on the device's copy stream); a waiting sequence of
// higher priority preempts running ones of lower priority, while among equals one filling its
// prompt or coming back waits for free blocks (preempting running equals made them come back and
// preempt in turn: 581 preemptions against 66 in `llmos-bench llm`'s preemption round). Each
// sequence samples with its own generator from its own seed, and the kernel gives an item the same
// logits alone, in a batch, in a prefill chunk or from a paged cache, so a sequence's tokens are
// exactly what engine::generate gives it alone, preempted or not. Sequences may each run under a
// fine-tune's adapters (lora_adapter) over the shared base, all in the same steps; their
// prefix-cache entries are keyed by adapter too, since the same tokens give other keys and values
// under other adapters. Torch-free header; used from one thread at a time (the device's).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "model/core/sampling.hpp"

namespace llmos::model {

class engine;
struct lora_adapter;

/// What a caller asks of one sequence.
struct sequence_request {
  std::vector<int32_t> prompt; ///< token ids (BOS is prepended when the model has one)
  int64_t max_new = 32;
  sampling_params sampling;
  uint64_t seed = 1;
  int32_t priority = 0;  ///< higher runs first and preempts lower
  int32_t logprobs = -1; ///< >= 0: each event carries the token's log-probability and this many
                         ///< most likely alternatives
  int32_t adapter = -1;  ///< a fine-tune's adapters (add_adapter's index); -1: the base alone
};

/// How a decoder keeps its sequences' keys and values.
struct decoder_config {
  int64_t prefill_chunk = 64; ///< prompt positions per step, across all filling sequences
  int32_t block_size = 16;    ///< positions per KV block
  /// Blocks in the pool; 0: from pool_bytes; both 0: room for 64 full contexts or 256 MiB,
  /// whichever is less. Never fewer than one full context.
  int64_t pool_blocks = 0;
  int64_t pool_bytes = 0;
  bool swap = false; ///< preempted sequences keep their cache in host memory (else recompute)
  /// Host memory for swapped caches (pinned for a GPU), allocated when the decoder starts; a
  /// preempted sequence whose cache does not fit is recomputed instead. 0: as much as the pool,
  /// at most 4 GiB.
  int64_t swap_bytes = 0;
  /// False: the model actor generates one request at a time instead (a baseline to measure
  /// continuous batching against).
  bool continuous = true;
};

/// Where a sequence stands.
struct sequence_info {
  uint64_t id = 0;
  int32_t priority = 0;
  std::string state;  ///< "waiting" (prompt filling), "running", "preempted", "swapped"
  int64_t tokens = 0; ///< context length: prompt and generated
  int64_t generated = 0;
  int64_t blocks = 0; ///< KV blocks held
};

/// The decoder's counters.
struct decoder_stats {
  std::size_t running = 0, waiting = 0, preempted = 0; ///< preempted: dropped or swapped now
  int64_t blocks_total = 0, blocks_used = 0, block_size = 0;
  uint64_t preemptions = 0;   ///< since the decoder was made
  uint64_t prefix_blocks = 0; ///< blocks taken from the prefix cache instead of computed
  uint64_t swaps = 0;         ///< preemptions that swapped the cache out (the rest dropped it)
  int64_t swap_blocks_total = 0, swap_blocks_used = 0; ///< host blocks for swapped caches
};

/// One event of a step: a token a sequence made, and whether (and why) the sequence ended.
struct sequence_event {
  uint64_t id = 0;
  int32_t token = -1; ///< -1 when the sequence ended without a new token (EOS, context)
  bool finished = false;
  std::string reason; ///< "stop" (EOS), "length" (max_new or the context), when finished
  std::optional<token_logprobs> logprobs; ///< of `token`, when the request asked for them
};

class batch_decoder {
public:
  /// A decoder over `e`'s llama network where it is now: on the CPU with the pool in host memory,
  /// on a GPU with the pool in that GPU's memory (llama_paged_cuda). bad_params for other
  /// architectures, a network the fused kernels cannot run (int8, unmerged LoRA, bf16), a pool
  /// smaller than one full context, or a GPU in a build without the CUDA kernels.
  static caf::expected<std::unique_ptr<batch_decoder>> create(engine& e,
                                                              const decoder_config& cfg = {});
  ~batch_decoder();

  /// Keeps up with `e` (the engine it was made over) when `e` moved to another device since
  /// (a model's first job on its device places it there): with no sequence admitted yet the
  /// decoder is made again where the weights are now, adapters included; with sequences, a move
  /// is refused (their caches are where the weights were). Nothing to do when `e` stayed.
  caf::error follow(engine& e);

  /// Where the decoder computes ("cpu", "cuda:0").
  const std::string& device() const;

  /// Makes a fine-tune's adapters available to sequences (sequence_request::adapter): its index.
  /// bad_params when they were taken over a network of another shape.
  caf::expected<int32_t> add_adapter(std::shared_ptr<const lora_adapter> adapter);

  /// Queues a sequence; bad_params for a prompt token outside the vocabulary, a prompt that
  /// fills the context, an unknown adapter, or bad sampling parameters.
  caf::expected<uint64_t> admit(const sequence_request& req);

  /// Prefill chunks, then one decode step of every sequence that has its prompt in the cache.
  caf::expected<std::vector<sequence_event>> step();

  /// Drops a sequence and its cache; false when it is unknown (finished or never admitted).
  bool cancel(uint64_t id);

  /// Sequences admitted and not finished.
  std::size_t active() const;

  /// Sets a sequence's priority; false when it is unknown.
  bool set_priority(uint64_t id, int32_t priority);

  /// Sequences that decoded in the last step (the batch size of its decode).
  std::size_t last_batch() const;

  /// Every active sequence, in schedule order.
  std::vector<sequence_info> sequences() const;

  decoder_stats stats() const;

private:
  struct impl;
  explicit batch_decoder(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace llmos::model
