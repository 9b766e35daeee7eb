// The device's logic as a plain class: what the device is, running kernels on byte tensors
// with the right backend, and the counters a scheduler will use to judge its load.
#pragma once

#include <chrono>
#include <memory>

#include <caf/expected.hpp>

#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/kernels/nccl_group.hpp"
#include "llmos/messages/device.hpp"

namespace llmos {

class device_core {
public:
  /// `type` is "cpu" or "cuda"; a cuda device needs a GPU at `cuda_index` (checked by create).
  static caf::expected<device_core> create(std::string name, std::string type, int cuda_index,
                                           uint32_t threads);

  /// Elementwise GELU of a float32 tensor; kernel_failed when the bytes do not match the shape.
  caf::expected<tensor_bytes> gelu(const tensor_bytes& in);

  const device_info& info() const { return info_; }

  /// GPU devices: a fresh NCCL unique id; CPU devices refuse (their collectives are Gloo's).
  caf::expected<std::string> nccl_id() const;

  /// GPU devices: joins rank `rank` of `world` (blocks until every rank joined, at most
  /// `timeout_ms`: then it fails and the device stays usable).
  caf::error nccl_join(const std::string& id, uint32_t rank, uint32_t world,
                       uint32_t timeout_ms = nccl_join_timeout_ms);

  /// How long a device actor waits for the other ranks of an NCCL group to join, and for them to
  /// join each all-reduce (then the group is aborted: every later all-reduce fails).
  static constexpr uint32_t nccl_join_timeout_ms = 60000;

  /// GPU devices in a group: the float32 tensor summed over every rank.
  caf::expected<tensor_bytes> all_reduce(const tensor_bytes& in);

  /// A GPU device's own streams, which its jobs run under (kernels::job_stream_scope); none on
  /// a CPU.
  kernels::job_streams streams() const;

  /// Counts a finished job of `seconds`.
  void record_job(double seconds);

  /// info() with the uptime brought up to now and the given queue length.
  device_info snapshot(uint64_t queued) const;

private:
  device_core() = default;
  device_info info_;
  std::shared_ptr<kernels::nccl_group> nccl_;            ///< set by nccl_join; owns its CUDA stream
  std::shared_ptr<kernels::cuda_stream> compute_, copy_; ///< a GPU device's; null on a CPU
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

/// Checks that `t.data` holds exactly product(shape) float32 values; returns the count.
caf::expected<std::size_t> float_count(const tensor_bytes& t);

} // namespace llmos
