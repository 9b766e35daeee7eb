// llama_decode_cuda: the CPU kernel's step (llama_decode_reference.cpp, run.c's forward) as one
// CUDA kernel per operation over the whole batch: a warp per weight row for the matrix products
// and the classifier (coalesced loads, each weight read once per 8 items; device_math.cuh), a
// block per (item, head) for attention over the paged cache; adapters in llama_lora.cu. Accurate
// math functions throughout (no --use_fast_math): the test compares the logits with the CPU's.
#include "llmos/kernels/llama_decode_cuda.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "cuda/check.cuh"
#include "cuda/device_math.cuh"
#include "cuda/llama_lora.cuh"

namespace llmos::kernels {
namespace {

constexpr int threads = 256; // every kernel's block size; the reductions rely on it

/// An item as the kernels read it (llama_decode_item with its cache view flattened).
struct device_item {
  int32_t token;
  int32_t pos;
  float* k;
  float* v;
  int64_t layer_stride;
  const int32_t* blocks;
  int32_t block_size;
  float* logits;
};

/// The sizes every kernel of a step needs.
struct step_shape {
  int dim, hidden, n_heads, head_size, kv_dim, kv_mul, seq_len, vocab;
  float eps, theta;
};

__device__ int64_t kv_offset(const device_item& it, int64_t pos, int64_t kv_dim) {
  if (it.blocks == nullptr)
    return pos * kv_dim;
  return (int64_t{it.blocks[pos / it.block_size]} * it.block_size + pos % it.block_size) * kv_dim;
}

/// `op` (sum, maximum) of `v` over the block's threads, returned to all of them.
template <class Op> __device__ float block_reduce(float v, Op op) {
  __shared__ float part[threads];
  part[threadIdx.x] = v;
  __syncthreads();
  for (int s = threads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s)
      part[threadIdx.x] = op(part[threadIdx.x], part[threadIdx.x + s]);
    __syncthreads();
  }
  const float total = part[0];
  __syncthreads(); // `part` is written again by the next reduction
  return total;
}

struct add_op {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct max_op {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// Block per item: its token's embedding row into x.
__global__ void embed(float* x, const float* embedding, const device_item* items, int dim) {
  const int64_t token = items[blockIdx.x].token;
  for (int d = threadIdx.x; d < dim; d += blockDim.x)
    x[int64_t{blockIdx.x} * dim + d] = embedding[token * dim + d];
}

/// Block per item: out = x * weight / sqrt(mean(x²) + eps); out may be x.
__global__ void rmsnorm(float* out, const float* x, const float* weight, int dim, float eps) {
  const float* xi = x + int64_t{blockIdx.x} * dim;
  float* oi = out + int64_t{blockIdx.x} * dim;
  float ss = 0.0f;
  for (int d = threadIdx.x; d < dim; d += blockDim.x)
    ss += xi[d] * xi[d];
  const float inv = 1.0f / sqrtf(block_reduce(ss, add_op{}) / static_cast<float>(dim) + eps);
  for (int d = threadIdx.x; d < dim; d += blockDim.x)
    oi[d] = weight[d] * (inv * xi[d]);
}

constexpr int rows_per_block = threads / 32; // a warp per weight row
constexpr int items_per_pass = 8;            // items a warp sums at once (registers)

/// Warp per row: out[item, r] (+)= w[r, :] · x[item, :] for every item, a row-major w [rows,
/// cols] read coalesced, each weight once per 8 items (where a thread per row read its row
/// alone, 32 rows apart across a warp, once per item).
__global__ void matvec(float* out, const float* x, const float* w, int cols, int rows, int count,
                       bool add) {
  const int r = blockIdx.x * rows_per_block + static_cast<int>(threadIdx.x / 32);
  if (r >= rows) // the whole warp: its lanes share r
    return;
  for (int first = 0; first < count; first += items_per_pass) {
    const int n = min(items_per_pass, count - first);
    float acc[items_per_pass];
    warp_dots(w + int64_t{r} * cols, x, cols, nullptr, first, n, acc);
    for (int j = 0; threadIdx.x % 32 == 0 && j < n; j++) {
      float& o = out[int64_t{first + j} * rows + r];
      o = add ? o + acc[j] : acc[j];
    }
  }
}

/// Turns the pair (vec[i], vec[i+1]) by the angle whose cosine and sine are given.
__device__ void turn(float* vec, int i, float fcr, float fci) {
  const float v0 = vec[i], v1 = vec[i + 1];
  vec[i] = v0 * fcr - v1 * fci;
  vec[i + 1] = v0 * fci + v1 * fcr;
}

/// Block per item: rotary on q (all heads) and k (its kv heads), pairs (i, i+1) turning by
/// pos * theta^(-(i % head_size) / head_size).
__global__ void rope(float* q, float* k, const device_item* items, step_shape s) {
  const float pos = static_cast<float>(items[blockIdx.x].pos);
  float* qi = q + int64_t{blockIdx.x} * s.dim;
  float* ki = k + int64_t{blockIdx.x} * s.kv_dim;
  for (int i = 2 * threadIdx.x; i < s.dim; i += 2 * blockDim.x) {
    const float freq =
        1.0f / powf(s.theta, static_cast<float>(i % s.head_size) / static_cast<float>(s.head_size));
    const float fcr = cosf(pos * freq), fci = sinf(pos * freq);
    turn(qi, i, fcr, fci);
    if (i < s.kv_dim)
      turn(ki, i, fcr, fci);
  }
}

/// Block per item: its new key and value into its cache at its position of `layer`.
__global__ void store_kv(const float* k, const float* v, const device_item* items, int layer,
                         int kv_dim) {
  const device_item& it = items[blockIdx.x];
  const int64_t at = layer * it.layer_stride + kv_offset(it, it.pos, kv_dim);
  for (int d = threadIdx.x; d < kv_dim; d += blockDim.x) {
    it.k[at + d] = k[int64_t{blockIdx.x} * kv_dim + d];
    it.v[at + d] = v[int64_t{blockIdx.x} * kv_dim + d];
  }
}

/// Block per (head, item): the head's query over the cached keys up to the item's position,
/// softmax, and the weighted values into out (att: scores, n_heads * seq_len per item).
__global__ void attention(float* out, const float* q, float* att, const device_item* items,
                          int layer, step_shape s) {
  const int h = blockIdx.x;
  const device_item& it = items[blockIdx.y];
  const float* qh = q + int64_t{blockIdx.y} * s.dim + h * s.head_size;
  float* atth = att + (int64_t{blockIdx.y} * s.n_heads + h) * s.seq_len;
  const int64_t head_at = int64_t{h / s.kv_mul} * s.head_size;
  const float* keys = it.k + layer * it.layer_stride + head_at;
  const float* values = it.v + layer * it.layer_stride + head_at;
  float local_max = -INFINITY;
  for (int t = threadIdx.x; t <= it.pos; t += blockDim.x) {
    const float score = dot(qh, keys + kv_offset(it, t, s.kv_dim), s.head_size);
    atth[t] = score / sqrtf(static_cast<float>(s.head_size));
    local_max = fmaxf(local_max, atth[t]);
  }
  const float max_score =
      block_reduce(local_max, max_op{}); // its barriers publish atth to the block
  float local_sum = 0.0f;
  for (int t = threadIdx.x; t <= it.pos; t += blockDim.x) {
    atth[t] = expf(atth[t] - max_score);
    local_sum += atth[t];
  }
  const float sum = block_reduce(local_sum, add_op{});
  for (int i = threadIdx.x; i < s.head_size; i += blockDim.x) {
    float acc = 0.0f;
    for (int t = 0; t <= it.pos; t++)
      acc += atth[t] / sum * values[kv_offset(it, t, s.kv_dim) + i];
    out[int64_t{blockIdx.y} * s.dim + h * s.head_size + i] = acc;
  }
}

/// hb = silu(hb) * hb2, elementwise over n.
__global__ void swiglu(float* hb, const float* hb2, int64_t n) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  const float val = hb[i];
  hb[i] = val * (1.0f / (1.0f + expf(-val))) * hb2[i];
}

/// Warp per vocabulary row, like matvec: the logits of the `n` items listed in `wanted`.
__global__ void classify(const float* x, const float* w, const device_item* items,
                         const int32_t* wanted, int n_wanted, int dim, int vocab) {
  const int r = blockIdx.x * rows_per_block + static_cast<int>(threadIdx.x / 32);
  if (r >= vocab)
    return;
  for (int first = 0; first < n_wanted; first += items_per_pass) {
    const int n = min(items_per_pass, n_wanted - first);
    float acc[items_per_pass];
    warp_dots(w + int64_t{r} * dim, x, dim, wanted, first, n, acc);
    for (int j = 0; threadIdx.x % 32 == 0 && j < n; j++)
      items[wanted[first + j]].logits[r] = acc[j];
  }
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>((rows + rows_per_block - 1) / rows_per_block);
}

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

} // namespace

/// The batch's activations in one allocation, and its items.
struct llama_cuda_buffers {
  int32_t capacity = 0;
  step_shape shape{};
  float* pool = nullptr;
  float *x = nullptr, *xb = nullptr, *q = nullptr, *k = nullptr, *v = nullptr;
  float *att = nullptr, *hb = nullptr, *hb2 = nullptr;
  device_item* items = nullptr;
  std::vector<device_item> host_items;
  int32_t* wanted = nullptr; ///< the items whose logits are wanted, by index
  std::vector<int32_t> host_wanted;
  lora_table loras; ///< the step's adapters (kept by release(): grown only when adapters come)

  /// Frees the device memory (capacity 0 again).
  void release() {
    cudaFree(pool);
    cudaFree(items);
    cudaFree(wanted);
    pool = nullptr;
    items = nullptr;
    wanted = nullptr;
    capacity = 0;
  }
  ~llama_cuda_buffers() { release(); }
};

namespace {

step_shape shape_of(const llama_decode_weights& w) {
  const int head_size = w.dim / w.n_heads;
  return {w.dim,
          w.hidden_dim,
          w.n_heads,
          head_size,
          head_size * w.n_kv_heads,
          w.n_heads / w.n_kv_heads,
          w.seq_len,
          w.vocab_size,
          w.norm_eps,
          w.rope_theta};
}

bool same_sizes(const step_shape& a, const step_shape& b) {
  return a.dim == b.dim && a.hidden == b.hidden && a.n_heads == b.n_heads && a.kv_dim == b.kv_dim &&
         a.seq_len == b.seq_len;
}

/// Sizes `b` for `count` items of shape `s` (kept when it is large enough already).
std::string reserve(llama_cuda_buffers& b, const step_shape& s, int32_t count) {
  if (b.capacity >= count && same_sizes(b.shape, s)) {
    b.shape = s;
    return {};
  }
  b.release();
  const int64_t per_item = 3 * int64_t{s.dim} + 2 * int64_t{s.kv_dim} +
                           int64_t{s.n_heads} * s.seq_len + 2 * int64_t{s.hidden};
  LLMOS_CUDA_TRY(cudaMalloc(&b.pool, per_item * count * sizeof(float)));
  LLMOS_CUDA_TRY(cudaMalloc(&b.items, count * sizeof(device_item)));
  LLMOS_CUDA_TRY(cudaMalloc(&b.wanted, count * sizeof(int32_t)));
  float* at = b.pool;
  for (auto [buf, n] : {std::pair{&b.x, s.dim},
                        {&b.xb, s.dim},
                        {&b.q, s.dim},
                        {&b.k, s.kv_dim},
                        {&b.v, s.kv_dim},
                        {&b.att, s.n_heads * s.seq_len},
                        {&b.hb, s.hidden},
                        {&b.hb2, s.hidden}}) {
    *buf = at;
    at += int64_t{n} * count;
  }
  b.capacity = count;
  b.shape = s;
  b.host_items.resize(count);
  return {};
}

/// Why `items` cannot be decoded by `w` (empty: they can).
std::string check_items(const llama_decode_weights& w, const llama_decode_item* items,
                        int32_t count) {
  if (w.n_heads <= 0 || w.n_kv_heads <= 0 || w.dim % w.n_heads != 0 ||
      w.n_heads % w.n_kv_heads != 0 || w.blocks.size() != static_cast<size_t>(w.n_layers))
    return "llama_decode_cuda: the weights' shape is inconsistent";
  if (count > 65535) // a grid's y extent: one row of blocks per item
    return "llama_decode_cuda: " + std::to_string(count) + " items in one step, at most 65535";
  for (int32_t i = 0; i < count; i++)
    if (items[i].token < 0 || items[i].token >= w.vocab_size || items[i].pos < 0 ||
        items[i].pos >= w.seq_len || items[i].cache.k == nullptr || items[i].cache.v == nullptr ||
        (items[i].cache.blocks != nullptr && items[i].cache.block_size <= 0))
      return "llama_decode_cuda: item " + std::to_string(i) + " has token " +
             std::to_string(items[i].token) + " at position " + std::to_string(items[i].pos) +
             " (vocabulary " + std::to_string(w.vocab_size) + ", context " +
             std::to_string(w.seq_len) + ") or no usable cache";
  return {};
}

/// One transformer block for every item, enqueued on `st`.
void run_block(const llama_decode_weights& w, int layer, llama_cuda_buffers& b, int32_t count,
               cudaStream_t st) {
  const step_shape& s = b.shape;
  const llama_block_weights& blk = w.blocks[layer];
  const auto n = static_cast<unsigned>(count);
  // out (+)= m · x, then each item's adapter of linear `which` (its index in lora_linears).
  auto mv = [&](float* out, const float* x, const float* m, int cols, int rows, bool add,
                int which) {
    matvec<<<row_blocks(rows), threads, 0, st>>>(out, x, m, cols, rows, count, add);
    add_loras(b.loras, layer, which, out, x, cols, rows, count, st);
  };
  rmsnorm<<<n, threads, 0, st>>>(b.xb, b.x, blk.attn_norm, s.dim, s.eps);
  mv(b.q, b.xb, blk.wq, s.dim, s.dim, false, 0);
  mv(b.k, b.xb, blk.wk, s.dim, s.kv_dim, false, 1);
  mv(b.v, b.xb, blk.wv, s.dim, s.kv_dim, false, 2);
  rope<<<n, threads, 0, st>>>(b.q, b.k, b.items, s);
  store_kv<<<n, threads, 0, st>>>(b.k, b.v, b.items, layer, s.kv_dim);
  attention<<<dim3(s.n_heads, n), threads, 0, st>>>(b.xb, b.q, b.att, b.items, layer, s);
  mv(b.x, b.xb, blk.wo, s.dim, s.dim, true, 3); // the residual: x += wo · attention
  rmsnorm<<<n, threads, 0, st>>>(b.xb, b.x, blk.ffn_norm, s.dim, s.eps);
  mv(b.hb, b.xb, blk.w1, s.dim, s.hidden, false, 4);
  mv(b.hb2, b.xb, blk.w3, s.dim, s.hidden, false, 5);
  swiglu<<<blocks_for(int64_t{count} * s.hidden), threads, 0, st>>>(b.hb, b.hb2,
                                                                    int64_t{count} * s.hidden);
  mv(b.x, b.hb, blk.w2, s.hidden, s.dim, true, 6);
}

} // namespace

std::string llama_decode_cuda(const llama_decode_weights& w, const llama_decode_item* items,
                              int32_t count, llama_cuda_scratch& scratch, void* stream,
                              const llama_adapter_weights* const* adapters) {
  if (count <= 0)
    return {};
  if (auto err = check_items(w, items, count); !err.empty())
    return err;
  if (!scratch.b)
    scratch.b = std::make_shared<llama_cuda_buffers>();
  auto& b = *scratch.b;
  if (auto err = reserve(b, shape_of(w), count); !err.empty())
    return err;
  for (int32_t i = 0; i < count; i++) {
    const auto& it = items[i];
    b.host_items[i] = {it.token,
                       it.pos,
                       it.cache.k,
                       it.cache.v,
                       it.cache.layer_stride,
                       it.cache.blocks,
                       it.cache.block_size,
                       it.logits};
  }
  auto st = static_cast<cudaStream_t>(stream);
  b.host_wanted.clear();
  for (int32_t i = 0; i < count; i++)
    if (items[i].logits != nullptr)
      b.host_wanted.push_back(i);
  // From pageable memory: returns once the items are staged, so host_items may change after.
  LLMOS_CUDA_TRY(cudaMemcpyAsync(b.items, b.host_items.data(), count * sizeof(device_item),
                                 cudaMemcpyHostToDevice, st));
  if (!b.host_wanted.empty())
    LLMOS_CUDA_TRY(cudaMemcpyAsync(b.wanted, b.host_wanted.data(),
                                   b.host_wanted.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                   st));
  if (auto err = stage_loras(b.loras, w, adapters, count, st); !err.empty())
    return err;
  const auto n = static_cast<unsigned>(count);
  embed<<<n, threads, 0, st>>>(b.x, w.embedding, b.items, w.dim);
  for (int l = 0; l < w.n_layers; l++)
    run_block(w, l, b, count, st);
  rmsnorm<<<n, threads, 0, st>>>(b.x, b.x, w.final_norm, w.dim, w.norm_eps);
  if (!b.host_wanted.empty())
    classify<<<row_blocks(w.vocab_size), threads, 0, st>>>(b.x, w.classifier, b.items, b.wanted,
                                                           static_cast<int>(b.host_wanted.size()),
                                                           w.dim, w.vocab_size);
  LLMOS_CUDA_TRY(cudaGetLastError());
  return {};
}

} // namespace llmos::kernels
