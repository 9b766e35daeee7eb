// The device conversation: a device actor owns one compute resource (a CPU thread pool or one
// GPU) and runs kernels on tensors that arrive as raw bytes. This first version answers with
// what the device is and runs the GELU kernel; training and inference jobs arrive later.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// What a device is and how busy it has been.
struct device_info {
  std::string name;
  std::string type;    ///< "cpu" or "cuda"
  std::string backend; ///< the kernel backend that ran last ("cpu", "cuda")
  uint32_t threads = 0;
  int32_t cuda_index = -1;        ///< GPU index, -1 for CPU devices
  uint64_t memory_bytes = 0;      ///< memory the device can use (capacity)
  uint64_t memory_free_bytes = 0; ///< of it, free when asked (GPU: cudaMemGetInfo; CPU: RAM)
  /// GPU: LibTorch's caching allocator on this GPU, in this process: bytes in live tensors, and
  /// bytes it holds (cached for reuse, the allocated ones included). 0 on a CPU, or where the
  /// LibTorch has no CUDA.
  uint64_t memory_allocated_bytes = 0;
  uint64_t memory_reserved_bytes = 0;
  uint64_t jobs_done = 0;      ///< kernels run since start
  uint64_t elements_done = 0;  ///< tensor elements processed since start
  double busy_seconds = 0.0;   ///< time spent inside kernels since start
  uint64_t queued = 0;         ///< jobs waiting in the device's mailbox when asked
  double uptime_seconds = 0.0; ///< since the device started: busy / uptime is its utilisation
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, device_info& x) {
  return f(caf::meta::type_name("device_info"), field("name"), x.name, field("type"), x.type,
           field("backend"), x.backend, field("threads"), x.threads, field("cuda_index"),
           x.cuda_index, field("memory_bytes"), x.memory_bytes, field("memory_free_bytes"),
           x.memory_free_bytes, field("memory_allocated_bytes"), x.memory_allocated_bytes,
           field("memory_reserved_bytes"), x.memory_reserved_bytes, field("jobs_done"), x.jobs_done,
           field("elements_done"), x.elements_done, field("busy_seconds"), x.busy_seconds,
           field("queued"), x.queued, field("uptime_seconds"), x.uptime_seconds);
}

/// A dense tensor as raw little-endian bytes: tensors never cross a process boundary
/// element by element (CAF serializes std::vector<float> per element, ~15x slower).
struct tensor_bytes {
  std::vector<int64_t> shape;
  std::string data;          ///< shape-product * element size bytes
  std::string dtype = "f32"; ///< "f32", "i32" (token ids) or "u8" (pixels)
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, tensor_bytes& x) {
  return f(caf::meta::type_name("tensor_bytes"), field("shape"), x.shape, bytes_field("data"),
           x.data, field("dtype"), x.dtype);
}

/// A compute job for a device on the same node: a closure, so it can never cross a process
/// boundary (CAF refuses to serialize it). The device runs its jobs one at a time, in arrival
/// order, on its own thread, and passes itself in so the job can size its thread pool (the
/// device owns the cores; see docs/architecture.md).
struct device_job {
  std::string what; ///< for logs and errors, e.g. "train step 12 of spam-bag"
  std::shared_ptr<std::function<void(const device_info&)>> run;
};

/// The device actor's typed interface.
using device_actor = caf::typed_actor<
    // anyone -> device: what it is and its counters.
    caf::replies_to<info_atom>::with<device_info>,
    // anyone -> device: elementwise GELU (tanh form); fails kernel_failed on a bad tensor.
    caf::replies_to<gelu_atom, tensor_bytes>::with<tensor_bytes>,
    // model on the same node -> device: run a job; answers the seconds it took.
    caf::replies_to<run_job_atom, device_job>::with<double>,
    // coordinator -> GPU device of rank 0: a fresh NCCL unique id (bytes) for a group.
    caf::replies_to<nccl_id_atom>::with<std::string>,
    // coordinator -> each GPU device: join rank RANK of WORLD with rank 0's id; answered once
    // every rank joined (NCCL's rendezvous), with the rank; kernel_failed when they have not
    // within a minute (device_core::nccl_join_timeout_ms).
    caf::replies_to<nccl_join_atom, std::string, uint32_t, uint32_t>::with<uint32_t>,
    // -> GPU device in a group: the f32 tensor summed over every rank (on the device's stream).
    caf::replies_to<all_reduce_atom, tensor_bytes>::with<tensor_bytes>>;

} // namespace llmos

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(llmos::device_job)
