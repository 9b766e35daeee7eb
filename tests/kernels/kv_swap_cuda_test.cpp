// Swapping a paged pool's blocks on a GPU (label gpu; skips without one): llama_paged_cuda::swap
// against the CPU copy, outside device jobs (the pool's own stream) and inside one with a
// compute and a copy stream, where a write queued on the compute stream before a swap out is
// what reaches the host, and a read queued there after a swap in sees what came back, each with
// the other stream held up for 200 ms so that a missing wait would show.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/kernels/kv_swap.hpp"
#include "llmos/kernels/llama_paged_cuda.hpp"

#if LLMOS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace llmos::kernels {
namespace {

TEST(kv_swap_cuda, a_pool_cannot_be_made_without_a_gpu) {
  if (cuda_device_count() > 0)
    GTEST_SKIP() << "a GPU is present; covered by kv_swap_cuda.*_gpu";
  std::unique_ptr<llama_paged_cuda> pool;
  EXPECT_FALSE(llama_paged_cuda::create(0, 64, &pool).empty());
  EXPECT_EQ(pool, nullptr);
}

#if LLMOS_WITH_CUDA

constexpr int32_t layers = 3, blocks = 5;
constexpr int64_t block_floats = 6, stride = blocks * block_floats;

/// The pool's contents on the host, every float its own value.
std::vector<float> numbered(float sign) {
  std::vector<float> out(layers * stride);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = sign * (static_cast<float>(i) + 1);
  return out;
}

class kv_swap_cuda_gpu : public ::testing::Test {
protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device on this machine";
    ASSERT_EQ(llama_paged_cuda::create(0, layers * stride, &pool), "");
    k = numbered(1);
    v = numbered(-1);
    ASSERT_EQ(cudaMemcpy(pool->keys(), k.data(), k.size() * 4, cudaMemcpyHostToDevice), 0);
    ASSERT_EQ(cudaMemcpy(pool->values(), v.data(), v.size() * 4, cudaMemcpyHostToDevice), 0);
    layout = {pool->keys(), pool->values(), stride, block_floats, layers};
    ASSERT_EQ(pool->host_memory(2 * kv_host_block_floats(layout), &host), "");
  }

  /// Swaps blocks 1 and 4 out, then into blocks 2 and 0; checks the host blocks and the pool
  /// against the CPU copy on host arrays (`k` and `v` as they are on the GPU at the start).
  void round_trip() {
    const kv_block_copy out[] = {{1, 0}, {4, 1}}, in[] = {{2, 0}, {0, 1}};
    std::vector<float> cpu_k = k, cpu_v = v;
    std::vector<float> cpu_host(2 * kv_host_block_floats(layout));
    const kv_pool_layout cpu{cpu_k.data(), cpu_v.data(), stride, block_floats, layers};
    kv_swap_blocks(cpu, cpu_host.data(), out, 2, true);
    kv_swap_blocks(cpu, cpu_host.data(), in, 2, false);
    ASSERT_EQ(pool->swap(layout, host, out, 2, true), "");
    ASSERT_EQ(cudaDeviceSynchronize(), 0);
    EXPECT_EQ(std::vector<float>(host, host + cpu_host.size()), cpu_host);
    ASSERT_EQ(pool->swap(layout, host, in, 2, false), "");
    ASSERT_EQ(cudaDeviceSynchronize(), 0);
    std::vector<float> got_k(k.size()), got_v(v.size());
    ASSERT_EQ(cudaMemcpy(got_k.data(), pool->keys(), k.size() * 4, cudaMemcpyDeviceToHost), 0);
    ASSERT_EQ(cudaMemcpy(got_v.data(), pool->values(), v.size() * 4, cudaMemcpyDeviceToHost), 0);
    EXPECT_EQ(got_k, cpu_k);
    EXPECT_EQ(got_v, cpu_v);
  }

  std::unique_ptr<llama_paged_cuda> pool;
  std::vector<float> k, v;
  kv_pool_layout layout;
  float* host = nullptr;
};

TEST_F(kv_swap_cuda_gpu, outside_a_job_blocks_go_out_and_back_as_on_the_cpu) {
  round_trip();
  float* again = nullptr; // the same pinned memory; more than it is refused
  EXPECT_EQ(pool->host_memory(8, &again), "");
  EXPECT_EQ(again, host);
  EXPECT_NE(pool->host_memory(3 * kv_host_block_floats(layout), &again), "");
}

/// Holds up a stream for 200 ms (a host function: no CUDA calls in it).
void CUDART_CB hold_up(void*) {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

TEST_F(kv_swap_cuda_gpu, in_a_job_swaps_are_ordered_with_the_compute_stream) {
  std::unique_ptr<cuda_stream> compute, copy;
  ASSERT_EQ(cuda_stream::create(0, true, &compute), "");
  ASSERT_EQ(cuda_stream::create(0, false, &copy), "");
  job_stream_scope scope({compute->handle(), copy->handle()});
  round_trip();
  auto* s = static_cast<cudaStream_t>(compute->handle());
  const std::vector<float> sevens(block_floats, 7.0f);
  float* staged = nullptr;
  ASSERT_EQ(cudaMalloc(&staged, block_floats * 4), 0);
  ASSERT_EQ(cudaMemcpy(staged, sevens.data(), block_floats * 4, cudaMemcpyHostToDevice), 0);
  // Behind 200 ms on the compute stream, block 1's layer-2 keys become 7s; a swap out queued
  // now must take them after that write, not before.
  ASSERT_EQ(cudaLaunchHostFunc(s, hold_up, nullptr), 0);
  float* layer2_block1 = pool->keys() + 2 * stride + 1 * block_floats;
  ASSERT_EQ(cudaMemcpyAsync(layer2_block1, staged, block_floats * 4, cudaMemcpyDeviceToDevice, s),
            0);
  const kv_block_copy out[] = {{1, 0}}, in[] = {{3, 0}};
  ASSERT_EQ(pool->swap(layout, host, out, 1, true), "");
  ASSERT_EQ(cudaDeviceSynchronize(), 0);
  EXPECT_EQ(std::vector<float>(host + 2 * block_floats, host + 3 * block_floats), sevens);
  // Behind 200 ms on the copy stream, the host block comes back into block 3; a read the compute
  // stream queues after the swap in must see it.
  ASSERT_EQ(cudaLaunchHostFunc(static_cast<cudaStream_t>(copy->handle()), hold_up, nullptr), 0);
  ASSERT_EQ(pool->swap(layout, host, in, 1, false), "");
  std::vector<float> read(block_floats);
  ASSERT_EQ(cudaMemcpyAsync(read.data(), pool->keys() + 2 * stride + 3 * block_floats,
                            block_floats * 4, cudaMemcpyDeviceToHost, s),
            0);
  ASSERT_EQ(cudaStreamSynchronize(s), 0);
  EXPECT_EQ(read, sevens);
  cudaFree(staged);
}

#endif

} // namespace
} // namespace llmos::kernels
