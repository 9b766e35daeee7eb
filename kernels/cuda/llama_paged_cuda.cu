// llama_paged_cuda: the paged pool in device memory and the host side of each step around
// llama_decode_cuda. Block tables are gathered once per distinct sequence (a prefill chunk's
// items share one), each as long as the furthest position an item of it reads; staging buffers
// are pinned so the copies are asynchronous, and they grow but are never reallocated per step.
// Swaps go on the device's copy stream, ordered with its compute stream by events.
#include "llmos/kernels/llama_paged_cuda.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <cuda_runtime.h>

#include "cuda/check.cuh"
#include "cuda/growing_buffer.cuh"
#include "cuda/llama_lora.cuh"
#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/kernels/llama_decode_cuda.hpp"

namespace llmos::kernels {
namespace {

/// A fine-tune's adapters in device memory: one allocation for every matrix, and the view the
/// decode kernels take (its pointers into that allocation).
struct device_adapter {
  float* memory = nullptr;
  llama_adapter_weights weights;
  ~device_adapter() { cudaFree(memory); }
};

} // namespace

struct llama_paged_cuda::impl {
  int device = 0;
  cudaStream_t own = nullptr;    ///< used outside device jobs
  cudaStream_t stream = nullptr; ///< of the current call
  float* keys = nullptr;
  float* values = nullptr;
  llama_cuda_scratch scratch;
  growing<int32_t, true> host_tables;
  growing<int32_t, false> tables;
  growing<float, true> host_logits;
  growing<float, false> logits;
  growing<float, true> swap_memory; ///< host blocks of swapped-out caches
  cudaEvent_t computed = nullptr;   ///< the compute stream's work before a swap
  cudaEvent_t copied = nullptr;     ///< a swap's copies, for the compute stream to wait on
  std::size_t max_pitch = 0;        ///< cudaMemcpy2D's largest pitch on this device, in bytes
  std::vector<llama_decode_item> staged;
  std::vector<std::pair<const int32_t*, std::size_t>> table_of; ///< host table, its length
  std::vector<std::unique_ptr<device_adapter>> adapters;
  std::vector<const llama_adapter_weights*> item_adapters; ///< of the current step

  ~impl() {
    cudaSetDevice(device);
    cudaDeviceSynchronize(); // nothing of ours may still be read or written, on any stream
    adapters.clear();
    cudaFree(keys);
    cudaFree(values);
    for (auto e : {computed, copied})
      if (e != nullptr)
        cudaEventDestroy(e);
    if (own != nullptr)
      cudaStreamDestroy(own);
  }

  /// Makes the device current and picks the stream of this call. "" on success.
  std::string enter() {
    LLMOS_CUDA_TRY(cudaSetDevice(device));
    auto* job = static_cast<cudaStream_t>(current_job_streams().compute);
    stream = job != nullptr ? job : own;
    return {};
  }

  /// Where each item's block table goes in `tables`: its offset there, or -1 for a dense cache
  /// (or a position outside the context, which llama_decode_cuda refuses).
  std::vector<int64_t> gather_tables(const llama_decode_item* items, int32_t count,
                                     int32_t seq_len);
  std::string stage(const llama_decode_weights& w, const llama_decode_item* items, int32_t count,
                    std::vector<int32_t>& wanted);
  std::string download_logits(std::size_t floats);
  std::string copy_blocks(const kv_pool_layout& pool, float* host, const kv_block_copy* copies,
                          int32_t count, bool to_host, cudaStream_t copy) const;

  /// `err`, once the stream has finished: a step that fails after staging may still have the
  /// table upload in flight from pinned memory the next step overwrites.
  std::string settled(std::string err) const {
    cudaStreamSynchronize(stream);
    cudaGetLastError();
    return err;
  }
};

llama_paged_cuda::llama_paged_cuda(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
llama_paged_cuda::~llama_paged_cuda() = default;

std::string llama_paged_cuda::create(int device, std::size_t floats,
                                     std::unique_ptr<llama_paged_cuda>* out) {
  auto p = std::make_unique<impl>();
  p->device = device;
  LLMOS_CUDA_TRY(cudaSetDevice(device));
  // For calls outside device jobs (tests, tools driving a decoder directly): a blocking stream,
  // so it waits for work on the legacy default stream, where LibTorch writes the weights outside
  // jobs. It is not ordered with a device's compute stream: inside jobs, that one is used.
  LLMOS_CUDA_TRY(cudaStreamCreate(&p->own));
  LLMOS_CUDA_TRY(cudaEventCreateWithFlags(&p->computed, cudaEventDisableTiming));
  LLMOS_CUDA_TRY(cudaEventCreateWithFlags(&p->copied, cudaEventDisableTiming));
  int max_pitch = 0;
  LLMOS_CUDA_TRY(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, device));
  p->max_pitch = static_cast<std::size_t>(max_pitch);
  LLMOS_CUDA_TRY(cudaMalloc(&p->keys, floats * sizeof(float)));
  LLMOS_CUDA_TRY(cudaMalloc(&p->values, floats * sizeof(float)));
  out->reset(new llama_paged_cuda(std::move(p)));
  return {};
}

float* llama_paged_cuda::keys() const {
  return impl_->keys;
}
float* llama_paged_cuda::values() const {
  return impl_->values;
}

std::string llama_paged_cuda::add_adapter(const llama_decode_weights& w,
                                          const llama_adapter_weights& host, int32_t* index) {
  auto& s = *impl_;
  if (host.blocks.size() != static_cast<std::size_t>(w.n_layers))
    return "adapter of " + std::to_string(host.blocks.size()) + " blocks over a network of " +
           std::to_string(w.n_layers);
  std::size_t floats = 0;
  for (const auto& block : host.blocks)
    for (int j = 0; j < lora_linears; j++)
      if (const llama_lora& lora = block.*lora_linear_of[j]; lora.a != nullptr) {
        const auto [in, out] = lora_in_out(j, w);
        floats += static_cast<std::size_t>(lora.rank * (in + out));
      }
  auto made = std::make_unique<device_adapter>();
  made->weights = host;
  if (auto err = s.enter(); !err.empty())
    return err;
  LLMOS_CUDA_TRY(cudaMalloc(&made->memory, std::max<std::size_t>(floats, 1) * sizeof(float)));
  float* at = made->memory;
  for (auto& block : made->weights.blocks)
    for (int j = 0; j < lora_linears; j++) {
      llama_lora& lora = block.*lora_linear_of[j];
      if (lora.a == nullptr)
        continue;
      const auto [in, out] = lora_in_out(j, w);
      for (auto [matrix, n] : {std::pair{&lora.a, lora.rank * in}, {&lora.b, out * lora.rank}}) {
        // From pageable memory, synchronous for the host: `host` may go once this returns.
        LLMOS_CUDA_TRY(cudaMemcpy(at, *matrix, static_cast<std::size_t>(n) * sizeof(float),
                                  cudaMemcpyHostToDevice));
        *matrix = at;
        at += n;
      }
    }
  s.adapters.push_back(std::move(made));
  *index = static_cast<int32_t>(s.adapters.size()) - 1;
  return {};
}

std::vector<int64_t> llama_paged_cuda::impl::gather_tables(const llama_decode_item* items,
                                                           int32_t count, int32_t seq_len) {
  table_of.clear();
  std::vector<int64_t> slot(count, -1);
  for (int32_t i = 0; i < count; i++) {
    const auto& c = items[i].cache;
    if (c.blocks == nullptr || c.block_size <= 0 || items[i].pos < 0 || items[i].pos >= seq_len)
      continue;
    const auto need = static_cast<std::size_t>(items[i].pos / c.block_size + 1);
    auto it = std::find_if(table_of.begin(), table_of.end(),
                           [&](const auto& t) { return t.first == c.blocks; });
    if (it == table_of.end())
      it = table_of.insert(table_of.end(), {c.blocks, 0});
    it->second = std::max(it->second, need);
    slot[i] = it - table_of.begin(); // an index for now, an offset below
  }
  std::vector<int64_t> offsets(table_of.size());
  int64_t at = 0;
  for (std::size_t t = 0; t < table_of.size(); t++) {
    offsets[t] = at;
    at += static_cast<int64_t>(table_of[t].second);
  }
  for (auto& s : slot)
    if (s >= 0)
      s = offsets[s];
  return slot;
}

/// Copies the block tables in, and makes `staged`: the items with device tables and logits.
std::string llama_paged_cuda::impl::stage(const llama_decode_weights& w,
                                          const llama_decode_item* items, int32_t count,
                                          std::vector<int32_t>& wanted) {
  const auto slot = gather_tables(items, count, w.seq_len);
  std::size_t ints = 0;
  for (const auto& [table, n] : table_of)
    ints += n;
  if (auto err = host_tables.reserve(ints); !err.empty())
    return err;
  if (auto err = tables.reserve(ints); !err.empty())
    return err;
  std::size_t at = 0;
  for (const auto& [table, n] : table_of) {
    std::memcpy(host_tables.ptr + at, table, n * sizeof(int32_t));
    at += n;
  }
  if (ints > 0)
    LLMOS_CUDA_TRY(cudaMemcpyAsync(tables.ptr, host_tables.ptr, ints * sizeof(int32_t),
                                   cudaMemcpyHostToDevice, stream));
  for (int32_t i = 0; i < count; i++)
    if (items[i].logits != nullptr)
      wanted.push_back(i);
  const std::size_t vocab = static_cast<std::size_t>(w.vocab_size);
  if (auto err = logits.reserve(wanted.size() * vocab); !err.empty())
    return err;
  if (auto err = host_logits.reserve(wanted.size() * vocab); !err.empty())
    return err;
  staged.assign(items, items + count);
  for (int32_t i = 0; i < count; i++)
    if (slot[i] >= 0)
      staged[i].cache.blocks = tables.ptr + slot[i];
  for (std::size_t j = 0; j < wanted.size(); j++)
    staged[wanted[j]].logits = logits.ptr + j * vocab;
  return {};
}

std::string llama_paged_cuda::step(const llama_decode_weights& w, const llama_decode_item* items,
                                   int32_t count, const int32_t* adapter_of) {
  if (count <= 0)
    return {};
  auto& s = *impl_;
  if (adapter_of != nullptr) // only steps with adapters build their per-item table
    s.item_adapters.assign(static_cast<std::size_t>(count), nullptr);
  for (int32_t i = 0; adapter_of != nullptr && i < count; i++) {
    const int32_t a = adapter_of[i];
    if (a < -1 || a >= static_cast<int32_t>(s.adapters.size()))
      return "item " + std::to_string(i) + " has adapter " + std::to_string(a) + " of " +
             std::to_string(s.adapters.size());
    if (a >= 0)
      s.item_adapters[i] = &s.adapters[a]->weights;
  }
  if (auto err = s.enter(); !err.empty())
    return err;
  std::vector<int32_t> wanted;
  if (auto err = s.stage(w, items, count, wanted); !err.empty())
    return s.settled(err);
  if (auto err = llama_decode_cuda(w, s.staged.data(), count, s.scratch, s.stream,
                                   adapter_of != nullptr ? s.item_adapters.data() : nullptr);
      !err.empty())
    return s.settled(err);
  const std::size_t vocab = static_cast<std::size_t>(w.vocab_size);
  if (auto err = s.download_logits(wanted.size() * vocab); !err.empty())
    return s.settled(err);
  LLMOS_CUDA_TRY(cudaStreamSynchronize(s.stream));
  for (std::size_t j = 0; j < wanted.size(); j++)
    std::memcpy(items[wanted[j]].logits, s.host_logits.ptr + j * vocab, vocab * sizeof(float));
  return {};
}

std::string llama_paged_cuda::impl::download_logits(std::size_t floats) {
  if (floats > 0)
    LLMOS_CUDA_TRY(cudaMemcpyAsync(host_logits.ptr, logits.ptr, floats * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream));
  return {};
}

std::string llama_paged_cuda::host_memory(std::size_t floats, float** out) {
  auto& s = *impl_;
  if (s.swap_memory.capacity == 0) {
    if (auto err = s.enter(); !err.empty())
      return err;
    if (auto err = s.swap_memory.reserve(floats); !err.empty())
      return "pinned host memory of " + std::to_string(floats * sizeof(float)) + " bytes: " + err;
  }
  if (floats > s.swap_memory.capacity)
    return "swap memory is " + std::to_string(s.swap_memory.capacity) + " floats, not " +
           std::to_string(floats);
  *out = s.swap_memory.ptr;
  return {};
}

std::string llama_paged_cuda::swap(const kv_pool_layout& pool, float* host,
                                   const kv_block_copy* copies, int32_t count, bool to_host) {
  auto& s = *impl_;
  if (count <= 0)
    return {};
  if (auto err = s.enter(); !err.empty())
    return err;
  auto* job_copy = static_cast<cudaStream_t>(current_job_streams().copy);
  cudaStream_t copy = job_copy != nullptr ? job_copy : s.stream;
  if (copy != s.stream) { // after what the compute stream wrote (or still reads) there
    LLMOS_CUDA_TRY(cudaEventRecord(s.computed, s.stream));
    LLMOS_CUDA_TRY(cudaStreamWaitEvent(copy, s.computed, 0));
  }
  // Recorded even after a failed copy: the compute stream must not overtake those queued.
  const auto err = s.copy_blocks(pool, host, copies, count, to_host, copy);
  if (copy != s.stream) { // the compute stream's next step reads or overwrites these blocks
    LLMOS_CUDA_TRY(cudaEventRecord(s.copied, copy));
    LLMOS_CUDA_TRY(cudaStreamWaitEvent(s.stream, s.copied, 0));
  }
  return err;
}

std::string llama_paged_cuda::impl::copy_blocks(const kv_pool_layout& pool, float* host,
                                                const kv_block_copy* copies, int32_t count,
                                                bool to_host, cudaStream_t copy) const {
  const std::size_t width = pool.block_floats * sizeof(float);
  const std::size_t pool_pitch = pool.layer_stride * sizeof(float);
  const auto kind = to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
  for (int32_t i = 0; i < count; ++i)
    // Each array's block over every layer: `layers` rows of one block, a layer apart in the pool,
    // back to back in the host block.
    for (const auto& [in_pool, in_host] : kv_copy_ends(pool, host, copies[i])) {
      if (pool_pitch <= max_pitch) {
        LLMOS_CUDA_TRY(cudaMemcpy2DAsync(to_host ? in_host : in_pool, to_host ? width : pool_pitch,
                                         to_host ? in_pool : in_host, to_host ? pool_pitch : width,
                                         width, pool.layers, kind, copy));
        continue;
      }
      // A layer of the pool wider than a 2D copy's pitch may be (2 GiB on current GPUs): a copy
      // per layer.
      for (int32_t l = 0; l < pool.layers; ++l) {
        float* p = in_pool + int64_t{l} * pool.layer_stride;
        float* h = in_host + int64_t{l} * pool.block_floats;
        LLMOS_CUDA_TRY(cudaMemcpyAsync(to_host ? h : p, to_host ? p : h, width, kind, copy));
      }
    }
  return {};
}

} // namespace llmos::kernels
