#include "device/device_core.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <utility>

#include "llmos/kernels/allocator_usage.hpp"
#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/gelu.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {

caf::expected<std::size_t> float_count(const tensor_bytes& t) {
  if (t.dtype != "f32")
    return make_llmos_error(error_code::kernel_failed,
                            "tensor dtype is '" + t.dtype + "'; this kernel takes f32");
  std::size_t n = 1;
  for (auto d : t.shape) {
    if (d < 0)
      return make_llmos_error(error_code::kernel_failed,
                              "tensor shape has a negative dimension " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / static_cast<std::size_t>(d))
      return make_llmos_error(error_code::kernel_failed, "tensor shape overflows");
    n *= static_cast<std::size_t>(d);
  }
  if (t.data.size() != n * sizeof(float))
    return make_llmos_error(error_code::kernel_failed,
                            "tensor data has " + std::to_string(t.data.size()) +
                                " bytes but its shape needs " + std::to_string(n * sizeof(float)) +
                                " (float32)");
  return n;
}

caf::expected<device_core> device_core::create(std::string name, std::string type, int cuda_index,
                                               uint32_t threads) {
  device_core core;
  core.info_.name = std::move(name);
  core.info_.type = type;
  core.info_.threads = threads;
  if (type == "cuda") {
    const int count = kernels::cuda_device_count();
    if (cuda_index < 0 || cuda_index >= count)
      return make_llmos_error(
          error_code::bad_config,
          "device '" + core.info_.name + "': cuda index " + std::to_string(cuda_index) +
              " but this machine has " + std::to_string(count) + " usable CUDA device(s)" +
              (kernels::cuda_compiled() ? "" : " (this build has no CUDA kernels)") +
              "; use type=cpu");
    core.info_.cuda_index = cuda_index;
    core.info_.memory_bytes = kernels::cuda_device_memory(cuda_index);
    core.info_.backend = "cuda";
    // The compute stream is blocking (ordered with LibTorch's default stream, which work outside
    // jobs uses); the copy stream is not, so transfers on it may overlap the compute.
    for (auto [stream, blocking] : {std::pair{&core.compute_, true}, {&core.copy_, false}}) {
      std::unique_ptr<kernels::cuda_stream> made;
      if (auto err = kernels::cuda_stream::create(cuda_index, blocking, &made); !err.empty())
        return make_llmos_error(error_code::kernel_failed,
                                "device '" + core.info_.name + "': its CUDA streams: " + err);
      *stream = std::move(made);
    }
  } else {
    core.info_.memory_bytes = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                              static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    core.info_.backend = "cpu";
  }
  return core;
}

namespace {

caf::error needs_gpu(const device_info& info, const std::string& what) {
  return make_llmos_error(error_code::kernel_failed,
                          "device '" + info.name + "': " + what +
                              " needs a CUDA device; this one is " + info.type +
                              " (CPU replicas average gradients through Gloo)");
}

} // namespace

caf::expected<std::string> device_core::nccl_id() const {
  if (info_.type != "cuda")
    return needs_gpu(info_, "an NCCL id");
  std::string id;
  if (auto err = kernels::nccl_group::make_id(&id); !err.empty())
    return make_llmos_error(error_code::kernel_failed, "device '" + info_.name + "': " + err);
  return id;
}

caf::error device_core::nccl_join(const std::string& id, uint32_t rank, uint32_t world,
                                  uint32_t timeout_ms) {
  if (info_.type != "cuda")
    return needs_gpu(info_, "an NCCL group");
  std::unique_ptr<kernels::nccl_group> g;
  if (auto err = kernels::nccl_group::join(info_.cuda_index, static_cast<int>(rank),
                                           static_cast<int>(world), id, timeout_ms, &g);
      !err.empty())
    return make_llmos_error(error_code::kernel_failed, "device '" + info_.name + "': " + err);
  nccl_ = std::move(g);
  return {};
}

caf::expected<tensor_bytes> device_core::all_reduce(const tensor_bytes& in) {
  if (!nccl_)
    return make_llmos_error(error_code::kernel_failed,
                            "device '" + info_.name + "' is in no NCCL group (nccl_join first)");
  auto n = float_count(in);
  if (!n)
    return std::move(n.error());
  tensor_bytes out = in;
  if (auto err = nccl_->all_reduce_sum(reinterpret_cast<float*>(out.data.data()), *n,
                                       nccl_join_timeout_ms);
      !err.empty())
    return make_llmos_error(error_code::kernel_failed, "device '" + info_.name + "': " + err);
  ++info_.jobs_done;
  info_.elements_done += *n;
  return out;
}

kernels::job_streams device_core::streams() const {
  return {compute_ ? compute_->handle() : nullptr, copy_ ? copy_->handle() : nullptr};
}

void device_core::record_job(double seconds) {
  ++info_.jobs_done;
  info_.busy_seconds += seconds;
}

device_info device_core::snapshot(uint64_t queued) const {
  auto out = info_;
  out.queued = queued;
  // Memory in use moves with what models allocate: read now, not at start.
  if (info_.type == "cuda") {
    out.memory_free_bytes = kernels::cuda_device_free_memory(info_.cuda_index);
    const auto held = kernels::allocator_usage_of(info_.cuda_index);
    out.memory_allocated_bytes = held.allocated_bytes;
    out.memory_reserved_bytes = held.reserved_bytes;
  } else
    out.memory_free_bytes = static_cast<uint64_t>(::sysconf(_SC_AVPHYS_PAGES)) *
                            static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  out.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return out;
}

caf::expected<tensor_bytes> device_core::gelu(const tensor_bytes& in) {
  auto n = float_count(in);
  if (!n)
    return std::move(n.error());
  tensor_bytes out;
  out.shape = in.shape;
  out.data.resize(in.data.size());
  // memcpy into aligned float buffers: the wire bytes carry no alignment guarantee.
  std::vector<float> src(*n);
  std::vector<float> dst(*n);
  std::memcpy(src.data(), in.data.data(), in.data.size());
  const auto start = std::chrono::steady_clock::now();
  if (info_.type == "cuda") {
    auto err = kernels::gelu_forward_cuda(dst.data(), src.data(), *n, info_.cuda_index);
    if (!err.empty())
      return make_llmos_error(error_code::kernel_failed, "device '" + info_.name + "': " + err);
  } else {
    kernels::gelu_forward_cpu(dst.data(), src.data(), *n);
  }
  info_.busy_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::memcpy(out.data.data(), dst.data(), out.data.size());
  info_.jobs_done += 1;
  info_.elements_done += *n;
  return out;
}

} // namespace llmos
