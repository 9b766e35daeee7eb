// A continuous-batching decoder's paged KV pool in one GPU's memory, and its decode steps over
// that pool. The decoder keeps its schedule on the host (block tables, the logits it samples
// from); each step moves only what the kernel needs: the block tables of the step's sequences
// go in and the wanted logits come back, through pinned staging buffers on the pool's stream,
// and the step returns when the logits are on the host. Keys and values never leave the GPU
// except for swapping (swap(), on the device's copy stream, into pinned memory). Every entry point
// exists in every build; without CUDA, create says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/kernels/kv_swap.hpp"
#include "llmos/kernels/llama_decode.hpp"

namespace llmos::kernels {

class llama_paged_cuda {
public:
  /// A pool of `floats` keys and as many values on GPU `device`. Its steps and copies go on the
  /// compute stream of the device job running on the calling thread (current_job_streams(), so
  /// they are ordered with the LibTorch work of the model's jobs, training included), or, outside
  /// a job, on a stream of its own that orders after LibTorch's default stream (not after a
  /// device's compute stream). Allocates with cudaMalloc, which may synchronise the GPU: make and
  /// drop a pool on the device's thread. "" on success, else what failed.
  static std::string create(int device, std::size_t floats, std::unique_ptr<llama_paged_cuda>* out);

  ~llama_paged_cuda();
  llama_paged_cuda(const llama_paged_cuda&) = delete;
  llama_paged_cuda& operator=(const llama_paged_cuda&) = delete;

  /// The pool's arrays, in device memory.
  float* keys() const;
  float* values() const;

  /// Copies a fine-tune's adapters (host matrices, over a network of `w`'s shape) into this GPU's
  /// memory for steps to use: their index in *index. "" on success.
  std::string add_adapter(const llama_decode_weights& w, const llama_adapter_weights& host,
                          int32_t* index);

  /// One decode step of `count` items whose weights `w` are in this GPU's memory: the items are
  /// the CPU kernel's, except that their caches point into keys()/values(); their block tables
  /// and logits stay host pointers. `adapter_of`, when given, holds each item's adapter
  /// (add_adapter's index) or -1 for none. Returns once every wanted logit is on the host; "" on
  /// success, else the first problem (an item out of range, an unknown adapter, a CUDA error).
  std::string step(const llama_decode_weights& w, const llama_decode_item* items, int32_t count,
                   const int32_t* adapter_of = nullptr);

  /// Pinned host memory of `floats` floats for swapped-out blocks (kv_swap_blocks's layout),
  /// allocated at the first call and kept with the pool; a call for more than the first is
  /// refused. "" on success.
  std::string host_memory(std::size_t floats, float** out);

  /// Enqueues copies of `count` whole blocks between this pool (`pool`'s arrays are keys() and
  /// values()) and `host`, memory from host_memory(); `to_host`: from the pool. They go on the
  /// device job's copy stream, after the work its compute stream has queued, and that stream's
  /// later work waits for them (outside a job, on the pool's own stream): the host is not held
  /// up, a step that reads blocks brought in runs after they arrive, and blocks taken out may be
  /// overwritten by the next step. Host blocks may be reused at once: every swap is ordered on
  /// the one copy stream. "" on success.
  std::string swap(const kv_pool_layout& pool, float* host, const kv_block_copy* copies,
                   int32_t count, bool to_host);

  struct impl;

private:
  explicit llama_paged_cuda(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace llmos::kernels
