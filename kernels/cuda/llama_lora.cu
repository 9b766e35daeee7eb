// The adapter table of a CUDA decode step and its two kernels (see llama_lora.cuh).
#include <algorithm>

#include "cuda/check.cuh"
#include "cuda/device_math.cuh"
#include "cuda/llama_lora.cuh"

namespace llmos::kernels {
namespace {

constexpr int threads = 256;

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

/// Thread per (rank row, item): t[item, r] = A[r, :] · x[item, :], for the items with an adapter
/// on this layer (t holds max_rank floats per item).
__global__ void lora_down(float* t, const float* x, const device_lora* loras, int cols,
                          int max_rank) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  const device_lora& l = loras[blockIdx.y];
  if (l.a == nullptr || r >= l.rank)
    return;
  t[int64_t{blockIdx.y} * max_rank + r] =
      dot(l.a + int64_t{r} * cols, x + int64_t{blockIdx.y} * cols, cols);
}

/// Thread per (row, item): out[item, r] += scale * B[r, :] · t[item, :], for the same items.
__global__ void lora_up(float* out, const float* t, const device_lora* loras, int rows,
                        int max_rank) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  const device_lora& l = loras[blockIdx.y];
  if (l.a == nullptr || r >= rows)
    return;
  out[int64_t{blockIdx.y} * rows + r] +=
      l.scale * dot(l.b + int64_t{r} * l.rank, t + int64_t{blockIdx.y} * max_rank, l.rank);
}

/// The largest rank among the items' adapters (0: none); "" or why one does not fit `w`.
std::string largest_rank(const llama_decode_weights& w,
                         const llama_adapter_weights* const* adapters, int32_t count, int* out) {
  *out = 0;
  for (int32_t i = 0; i < count; i++) {
    if (adapters[i] == nullptr)
      continue;
    if (adapters[i]->blocks.size() != static_cast<std::size_t>(w.n_layers))
      return "llama_decode_cuda: item " + std::to_string(i) + "'s adapter has " +
             std::to_string(adapters[i]->blocks.size()) + " blocks, the network " +
             std::to_string(w.n_layers);
    for (const auto& block : adapters[i]->blocks)
      for (auto which : lora_linear_of)
        if ((block.*which).a != nullptr)
          *out = std::max(*out, (block.*which).rank);
  }
  return {};
}

} // namespace

std::string stage_loras(lora_table& t, const llama_decode_weights& w,
                        const llama_adapter_weights* const* adapters, int32_t count,
                        cudaStream_t stream) {
  t.max_rank = 0;
  if (adapters == nullptr)
    return {};
  if (auto err = largest_rank(w, adapters, count, &t.max_rank); !err.empty() || t.max_rank == 0)
    return err;
  const auto items = static_cast<std::size_t>(count);
  const std::size_t entries = static_cast<std::size_t>(w.n_layers) * lora_linears * items;
  t.host.assign(entries, device_lora{nullptr, nullptr, 0, 0.0f});
  for (int32_t l = 0; l < w.n_layers; l++)
    for (int j = 0; j < lora_linears; j++)
      for (std::size_t i = 0; i < items; i++)
        if (const auto* a = adapters[i]; a != nullptr)
          if (const llama_lora& lo = a->blocks[l].*lora_linear_of[j]; lo.a != nullptr)
            t.host[(static_cast<std::size_t>(l) * lora_linears + j) * items + i] = {
                lo.a, lo.b, lo.rank, a->scale};
  if (auto err = t.entries.reserve(entries); !err.empty())
    return err;
  if (auto err = t.low_rank.reserve(items * static_cast<std::size_t>(t.max_rank)); !err.empty())
    return err;
  // From pageable memory: returns once staged, so `host` may change after.
  LLMOS_CUDA_TRY(cudaMemcpyAsync(t.entries.ptr, t.host.data(), entries * sizeof(device_lora),
                                 cudaMemcpyHostToDevice, stream));
  return {};
}

void add_loras(const lora_table& t, int layer, int which, float* out, const float* x, int cols,
               int rows, int32_t count, cudaStream_t stream) {
  if (t.max_rank == 0)
    return;
  const device_lora* l = t.entries.ptr + (int64_t{layer} * lora_linears + which) * count;
  const auto n = static_cast<unsigned>(count);
  lora_down<<<dim3(blocks_for(t.max_rank), n), threads, 0, stream>>>(t.low_rank.ptr, x, l, cols,
                                                                     t.max_rank);
  lora_up<<<dim3(blocks_for(rows), n), threads, 0, stream>>>(out, t.low_rank.ptr, l, rows,
                                                             t.max_rank);
}

} // namespace llmos::kernels
