// The device conversation: a device actor owns one compute resource (a CPU thread pool or one
// GPU) and runs kernels on tensors that arrive as raw bytes. This first version answers with
// what the device is and runs the GELU kernel; training and inference jobs arrive later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// What a device is and how busy it has been.
struct device_info {
  std::string name;
  std::string type;    ///< "cpu" or "cuda"
  std::string backend; ///< the kernel backend that ran last ("cpu", "cuda")
  uint32_t threads = 0;
  int32_t cuda_index = -1;    ///< GPU index, -1 for CPU devices
  uint64_t memory_bytes = 0;  ///< memory the device can use
  uint64_t jobs_done = 0;     ///< kernels run since start
  uint64_t elements_done = 0; ///< tensor elements processed since start
  double busy_seconds = 0.0;  ///< time spent inside kernels since start
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, device_info& x) {
  return f(caf::meta::type_name("device_info"), x.name, x.type, x.backend, x.threads, x.cuda_index,
           x.memory_bytes, x.jobs_done, x.elements_done, x.busy_seconds);
}

/// A dense tensor as raw little-endian bytes: tensors never cross a process boundary
/// element by element (CAF serializes std::vector<float> per element, ~15x slower).
struct tensor_bytes {
  std::vector<int64_t> shape;
  std::string data;          ///< shape-product * element size bytes
  std::string dtype = "f32"; ///< "f32", "i32" (token ids) or "u8" (pixels)
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, tensor_bytes& x) {
  return f(caf::meta::type_name("tensor_bytes"), x.shape, x.data, x.dtype);
}

/// The device actor's typed interface.
using device_actor = caf::typed_actor<
    // anyone -> device: what it is and its counters.
    caf::replies_to<info_atom>::with<device_info>,
    // anyone -> device: elementwise GELU (tanh form); fails kernel_failed on a bad tensor.
    caf::replies_to<gelu_atom, tensor_bytes>::with<tensor_bytes>>;

} // namespace llmos
