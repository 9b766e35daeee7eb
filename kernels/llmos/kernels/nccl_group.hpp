// One rank of an NCCL communicator on one GPU, with the CUDA stream its collectives run on.
// The unique id that ties the ranks together is plain bytes, so device actors exchange it in
// messages (rank 0 makes it, the others receive it) instead of through files or environment
// variables. The entry points exist in every build and report when CUDA/NCCL were not compiled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace llmos::kernels {

class nccl_group {
public:
  /// A fresh NCCL unique id (128 bytes) into *id; "" on success, else what failed.
  static std::string make_id(std::string* id);

  /// Joins rank `rank` of `world` on GPU `device` with the id rank 0 made; blocks until every
  /// rank joined, or `timeout_ms` passed (then the half-made communicator is aborted). "" on
  /// success, else what failed.
  static std::string join(int device, int rank, int world, const std::string& id,
                          uint32_t timeout_ms, std::unique_ptr<nccl_group>* out);

  ~nccl_group();

  /// data[0..n) (host floats) replaced by its sum over all ranks, through a device buffer on the
  /// group's own stream (all_reduce_device, with its deadline and abort). "" on success, else the
  /// CUDA or NCCL error.
  std::string all_reduce_sum(float* data, std::size_t n, uint32_t timeout_ms);

  /// data[0..n) in the group's GPU memory replaced in place by its sum (or `mean`) over all
  /// ranks: on the group's stream, after the work already queued on the stream that computed it
  /// (the running job's compute stream, else the legacy default stream); returns once the result
  /// is there. When not every rank joins within `timeout_ms` (or NCCL reports an error), the
  /// communicator is aborted and every later call fails. "" on success.
  std::string all_reduce_device(float* data, std::size_t n, bool mean, uint32_t timeout_ms);

  int rank() const { return rank_; }
  int world() const { return world_; }

  struct impl;

private:
  nccl_group() = default;
  std::unique_ptr<impl> impl_;
  int rank_ = 0;
  int world_ = 1;
};

} // namespace llmos::kernels
