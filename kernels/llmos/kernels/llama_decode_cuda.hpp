// The decode step of llama_decode.hpp on one GPU, for the serving engine's continuous batching
// over the paged KV cache when its model lives on a CUDA device actor: the same items (new token,
// position, paged or dense cache, logits or none) and the same weights, but every pointer they
// hold (weights, caches, block tables, logits) in that GPU's memory. One kernel per operation over
// the whole batch (a weight row is read once per step for every item); a prefill chunk may sit
// in one call like on the CPU. Items may each run under a fine-tune's low-rank adapters (LoRA),
// as on the CPU: after each linear layer, a kernel over the batch adds scale * B (A x) for the
// items with an adapter there. Checked against the CPU kernel by tests/kernels (label gpu).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "llmos/kernels/llama_decode.hpp"

namespace llmos::kernels {

struct llama_cuda_buffers; // the implementation's: device pointers and sizes

/// Device memory a CUDA decode step uses (activations of every item, attention scores, the
/// items themselves), sized for a batch and a shape on first use, reused, freed with the last
/// copy (copies share it: one step at a time on it).
struct llama_cuda_scratch {
  std::shared_ptr<llama_cuda_buffers> b;
};

/// Enqueues one decode step of `count` items on `stream` (a cudaStream_t, the device actor's;
/// null: the default stream) of the current device and returns before the GPU finishes: read
/// the logits after synchronising the stream. Tokens and positions are checked here (an
/// out-of-range one would read outside the weights or the cache); the first problem is returned
/// as text, empty on success. `adapters`, when given, is a host array of one entry per item: its
/// adapter, whose matrices are in this GPU's memory, or null for the base alone.
std::string llama_decode_cuda(const llama_decode_weights& w, const llama_decode_item* items,
                              int32_t count, llama_cuda_scratch& scratch, void* stream = nullptr,
                              const llama_adapter_weights* const* adapters = nullptr);

} // namespace llmos::kernels
