#include "llmos/kernels/nccl_group.hpp"

#include <chrono>
#include <cstring>
#include <thread>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cuda/check.cuh"
#include "llmos/kernels/cuda_stream.hpp"

#define LLMOS_NCCL_TRY(expr)                                                                       \
  do {                                                                                             \
    const ncclResult_t llmos_nccl_status = (expr);                                                 \
    if (llmos_nccl_status != ncclSuccess)                                                          \
      return std::string{#expr} + " failed: " + ncclGetErrorString(llmos_nccl_status);             \
  } while (false)

namespace llmos::kernels {

struct nccl_group::impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  ncclComm_t comm = nullptr;
  float* buffer = nullptr; ///< device scratch, grown on demand
  std::size_t capacity = 0;
  cudaEvent_t queued = nullptr; ///< the default stream's work so far, for the group's stream
};

std::string nccl_group::make_id(std::string* id) {
  ncclUniqueId raw;
  LLMOS_NCCL_TRY(ncclGetUniqueId(&raw));
  id->assign(raw.internal, sizeof raw.internal);
  return {};
}

namespace {

using steady = std::chrono::steady_clock;

/// Waits until the last call on a non-blocking communicator has settled: "" once it has, else
/// NCCL's error or, past the deadline, that it did not (the caller aborts the communicator).
std::string settle(ncclComm_t comm, steady::time_point deadline, const std::string& what) {
  for (;;) {
    ncclResult_t state = ncclSuccess;
    LLMOS_NCCL_TRY(ncclCommGetAsyncError(comm, &state));
    if (state == ncclSuccess)
      return {};
    if (state != ncclInProgress)
      return what + ": " + ncclGetErrorString(state);
    if (steady::now() >= deadline)
      return what + ": not every rank joined in time";
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

/// An NCCL call on a non-blocking communicator: ncclInProgress means "settling", not failed.
std::string enqueue(ncclResult_t status, ncclComm_t comm, steady::time_point deadline,
                    const std::string& what) {
  if (status == ncclInProgress)
    return settle(comm, deadline, what);
  if (status != ncclSuccess)
    return what + ": " + ncclGetErrorString(status);
  return {};
}

/// Ends a communicator that failed or waited past its deadline: its pending work is dropped and
/// every later call on the group fails. Returns `why`.
std::string abort_with(ncclComm_t& comm, std::string why) {
  if (comm != nullptr)
    ncclCommAbort(comm);
  comm = nullptr;
  return why;
}

} // namespace

std::string nccl_group::join(int device, int rank, int world, const std::string& id,
                             uint32_t timeout_ms, std::unique_ptr<nccl_group>* out) {
  ncclUniqueId raw;
  if (id.size() != sizeof raw.internal)
    return "nccl id has " + std::to_string(id.size()) + " bytes, expected " +
           std::to_string(sizeof raw.internal);
  if (world < 1 || rank < 0 || rank >= world)
    return "rank " + std::to_string(rank) + " of world " + std::to_string(world);
  std::memcpy(raw.internal, id.data(), id.size());
  std::unique_ptr<nccl_group> g{new nccl_group};
  g->impl_ = std::make_unique<impl>();
  g->impl_->device = device;
  g->rank_ = rank;
  g->world_ = world;
  LLMOS_CUDA_TRY(cudaSetDevice(device));
  LLMOS_CUDA_TRY(cudaStreamCreateWithFlags(&g->impl_->stream, cudaStreamNonBlocking));
  // Non-blocking: ncclCommInitRank would wait for good for a rank that never comes (it failed
  // before joining), holding the device actor's thread; this one is polled with a deadline.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  auto& comm = g->impl_->comm;
  const auto status = ncclCommInitRankConfig(&comm, world, raw, rank, &config);
  const std::string what = "joining rank " + std::to_string(rank) + " of " + std::to_string(world) +
                           " within " + std::to_string(timeout_ms) + " ms";
  if (auto err = enqueue(status, comm, steady::now() + std::chrono::milliseconds(timeout_ms), what);
      !err.empty())
    return abort_with(comm, std::move(err));
  *out = std::move(g);
  return {};
}

nccl_group::~nccl_group() {
  if (!impl_)
    return;
  cudaSetDevice(impl_->device);
  if (impl_->comm != nullptr)
    ncclCommDestroy(impl_->comm);
  if (impl_->buffer != nullptr)
    cudaFree(impl_->buffer);
  if (impl_->queued != nullptr)
    cudaEventDestroy(impl_->queued);
  if (impl_->stream != nullptr)
    cudaStreamDestroy(impl_->stream);
}

std::string nccl_group::all_reduce_sum(float* data, std::size_t n, uint32_t timeout_ms) {
  if (n == 0)
    return {};
  auto& s = *impl_;
  LLMOS_CUDA_TRY(cudaSetDevice(s.device));
  if (n > s.capacity) {
    if (s.buffer != nullptr)
      cudaFree(s.buffer);
    s.buffer = nullptr;
    s.capacity = 0;
    LLMOS_CUDA_TRY(cudaMalloc(&s.buffer, n * sizeof(float)));
    s.capacity = n;
  }
  const std::size_t bytes = n * sizeof(float);
  LLMOS_CUDA_TRY(cudaMemcpyAsync(s.buffer, data, bytes, cudaMemcpyHostToDevice, s.stream));
  if (auto err = all_reduce_device(s.buffer, n, false, timeout_ms); !err.empty())
    return err;
  LLMOS_CUDA_TRY(cudaMemcpyAsync(data, s.buffer, bytes, cudaMemcpyDeviceToHost, s.stream));
  LLMOS_CUDA_TRY(cudaStreamSynchronize(s.stream));
  return {};
}

std::string nccl_group::all_reduce_device(float* data, std::size_t n, bool mean,
                                          uint32_t timeout_ms) {
  if (n == 0)
    return {};
  auto& s = *impl_;
  if (s.comm == nullptr)
    return "the NCCL group was aborted by an earlier failure";
  LLMOS_CUDA_TRY(cudaSetDevice(s.device));
  if (s.queued == nullptr)
    LLMOS_CUDA_TRY(cudaEventCreateWithFlags(&s.queued, cudaEventDisableTiming));
  // The group's stream is non-blocking: it waits for the stream the gradients were computed on
  // (the job's compute stream, else LibTorch's default, the legacy stream) through an event.
  auto* producer = static_cast<cudaStream_t>(current_job_streams().compute);
  LLMOS_CUDA_TRY(cudaEventRecord(s.queued, producer != nullptr ? producer : cudaStreamLegacy));
  LLMOS_CUDA_TRY(cudaStreamWaitEvent(s.stream, s.queued, 0));
  // Waited for with a deadline: a rank that never joins this all-reduce (it failed, or skipped
  // the step) would otherwise hold this thread, and the device, for good.
  const auto deadline = steady::now() + std::chrono::milliseconds(timeout_ms);
  if (auto err = enqueue(
          ncclAllReduce(data, data, n, ncclFloat32, mean ? ncclAvg : ncclSum, s.comm, s.stream),
          s.comm, deadline, "all-reduce");
      !err.empty())
    return abort_with(s.comm, std::move(err));
  for (;;) {
    const cudaError_t done = cudaStreamQuery(s.stream);
    if (done == cudaSuccess)
      return {};
    // Any other way out leaves no live communicator behind: the all-reduce may still be queued
    // on it, and the next one would join the other ranks mid-collective.
    if (done != cudaErrorNotReady) {
      cudaGetLastError();
      return abort_with(s.comm, std::string{"all-reduce: "} + cudaGetErrorName(done) + " (" +
                                    cudaGetErrorString(done) + ")");
    }
    ncclResult_t async = ncclSuccess;
    if (const auto got = ncclCommGetAsyncError(s.comm, &async); got != ncclSuccess)
      return abort_with(s.comm, std::string{"all-reduce: "} + ncclGetErrorString(got));
    const bool late = steady::now() >= deadline;
    const bool failed = async != ncclSuccess && async != ncclInProgress;
    if (failed || late)
      return abort_with(s.comm, late ? "all-reduce of " + std::to_string(n) +
                                           " floats: not every rank joined within " +
                                           std::to_string(timeout_ms) + " ms (the group is aborted)"
                                     : std::string{"all-reduce: "} + ncclGetErrorString(async));
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

} // namespace llmos::kernels
