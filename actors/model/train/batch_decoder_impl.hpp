// The continuous-batching decoder's state and schedule (internal to batch_decoder): the live
// sequences with their block tables, the paged pool, preemption and swapping, the prefix cache,
// sampling, and the plan of each step's kernel items. Torch-free: only batch_decoder::create
// (batch_decoder.cpp) looks at the engine's network; the schedule is batch_decoder_schedule.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "llmos/kernels/kv_swap.hpp"
#include "llmos/kernels/llama_decode.hpp"
#include "llmos/kernels/llama_paged_cuda.hpp"
#include "model/core/data_shape.hpp"
#include "model/core/kv_block_pool.hpp"
#include "model/core/kv_swap_space.hpp"
#include "model/core/model_spec.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {
namespace decoder_detail {

enum class phase { waiting, running, preempted, swapped };

/// One sequence: its context so far, the blocks that hold its keys and values, its generator.
struct sequence {
  uint64_t id = 0;
  uint64_t order = 0; ///< admission order: among equal priorities, older runs first
  int32_t priority = 0;
  int32_t logprobs = -1; ///< alternatives reported per token; -1: none
  int32_t adapter = -1;  ///< index into the decoder's adapters; -1: none
  phase state = phase::waiting;
  std::vector<int64_t> context; ///< BOS, prompt, then generated tokens
  int64_t prefilled = 0;        ///< positions [0, prefilled) are in the cache (or swapped out)
  int64_t pending = 0;          ///< positions the current step computes
  int64_t generated = 0;
  int64_t max_new = 0;
  sampling_params sampling;
  std::mt19937_64 rng;
  std::vector<int32_t> blocks; ///< the block table
  int64_t published = 0;       ///< leading full blocks published to (or taken from) the pool
  uint64_t chain = 0;          ///< the prefix hash after them
  bool looked_up = false;      ///< the prefix cache was asked since the cache was last empty
  std::vector<float> logits;   ///< of the last context position, when has_logits
  bool has_logits = false;
  std::vector<int32_t> swap_blocks; ///< host blocks holding the cache while swapped out
};

} // namespace decoder_detail

struct batch_decoder::impl {
  using sequence = decoder_detail::sequence;
  using phase = decoder_detail::phase;

  const model_spec* spec = nullptr;  ///< the engine's, for errors
  const data_shape* shape = nullptr; ///< the engine's: vocabulary, bos and eos
  int64_t max_length = 0;            ///< the network's context
  kernels::llama_decode_weights weights;
  kernels::llama_decode_scratch scratch;
  decoder_config cfg;
  std::string device; ///< where the weights are: "cpu", "cuda:0"
  std::unique_ptr<kv_block_pool> pool;
  int32_t gpu_index = -1;                         ///< the GPU the weights are on; -1 on the CPU
  std::unique_ptr<kernels::llama_paged_cuda> gpu; ///< on a GPU: the pool's memory and the steps
  float* keys = nullptr;                          ///< the pool's arrays (host or the GPU's)
  float* values = nullptr;
  std::string device_error; ///< a GPU copy that failed during the schedule (reported by step)
  std::unique_ptr<kv_swap_space> swap_space; ///< with cfg.swap: the host blocks' books
  std::unique_ptr<float[]> swap_host;        ///< on the CPU: their memory
  float* swap_memory = nullptr;              ///< their memory: swap_host, or pinned for a GPU
  uint64_t swaps = 0;
  uint64_t next_id = 1, next_order = 0;
  std::map<uint64_t, sequence> live; ///< by id
  std::size_t last_batch = 0;
  uint64_t preemptions = 0;
  std::vector<float> adjusted; ///< logits after bias and penalties, one sequence at a time
  std::vector<std::shared_ptr<const lora_adapter>> adapters;
  std::vector<const kernels::llama_adapter_weights*> item_adapters; ///< per item of a step
  std::vector<int32_t> item_adapter_ids;                            ///< the same, as indices
  std::size_t gpu_adapters = 0; ///< adapters copied to the GPU (add_adapter's, in order)

  /// Where s's prefix chain starts: 0 under the base, a value of its own under each adapter, so
  /// that blocks computed under one are never matched by sequences of another.
  static uint64_t chain_seed(const sequence& s);

  int64_t vocab() const { return shape->vocab_size; }
  int64_t limit() const { return max_length; }
  int64_t block_size() const { return pool->block_size(); }

  /// Schedule order: higher priority first, then older.
  template <class Map> static auto in_order(Map& live) {
    std::vector<decltype(&live.begin()->second)> out;
    for (auto& [id, s] : live)
      out.push_back(&s);
    std::sort(out.begin(), out.end(), [](const sequence* a, const sequence* b) {
      return a->priority != b->priority ? a->priority > b->priority : a->order < b->order;
    });
    return out;
  }

  kernels::llama_kv_view view(sequence& s);

  void release(sequence& s);

  /// Releases s's pool blocks and its host blocks: it leaves the decoder.
  void drop(sequence& s);

  /// Where the pool's blocks are.
  kernels::kv_pool_layout layout() const;

  /// Copies s's blocks holding positions [0, s.prefilled) between the pool and its host blocks
  /// (a GPU's failure lands in device_error).
  void copy_swap(sequence& s, bool out);

  /// The swap space of cfg.swap: `pool_blocks` host blocks of `block_bytes` or as cfg.swap_bytes
  /// says, with its memory on the CPU (on a GPU, pinned memory comes with the pool).
  caf::error make_swap_space(int64_t pool_blocks, int64_t block_bytes);

  /// On a GPU: the pool's memory and the swap space's pinned memory, made at the first step (on
  /// the device's thread: cudaMalloc may synchronise the GPU, which must not hold up an actor's
  /// thread). "" on success.
  std::string ensure_gpu_pool();

  /// Runs the kernel on the step's items: the CPU's, or the GPU's over its pool (after copying
  /// adapters added since the last step there). "" on success.
  std::string run(std::vector<kernels::llama_decode_item>& items);

  /// Frees s's blocks: its cache goes to host memory (swap, when the swap space has room) or is
  /// dropped and computed again when it resumes (its sampled tokens and generator stay, so it
  /// continues where it was).
  void preempt(sequence& s);

  /// Gives order[at] blocks for positions [0, upto). When the pool is empty, sequences later in
  /// the order give theirs up, the last first (for a sequence that is not decoding, only those of
  /// lower priority); with none left, the sequence itself is preempted when `or_self` (a decoding
  /// sequence that cannot go on), else it waits. True when it got them.
  bool reserve(std::vector<sequence*>& order, std::size_t at, int64_t upto, bool or_self);

  /// Takes the blocks of s's prompt prefix that the pool already holds (never the last context
  /// position: its logits are needed).
  void look_up_prefix(sequence& s);

  /// Publishes the blocks s filled completely, so later sequences with the same prefix share them.
  void publish_full_blocks(sequence& s);

  /// Samples the next token of every sequence whose logits are ready.
  void sample(std::vector<sequence_event>& events);

  /// The kernel items of this step, in schedule order: swapped sequences come back when blocks
  /// allow, each decoding sequence gets one position, filling ones share the prefill budget.
  std::vector<kernels::llama_decode_item> plan();
};

} // namespace llmos::model
