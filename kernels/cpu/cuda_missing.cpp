// Built only when the CUDA toolkit is absent: the CUDA entry points exist and say so, so that
// callers need no #ifdefs and fall back to the CPU kernels.
#include <utility>

#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/kernels/gelu.hpp"
#include "llmos/kernels/llama_decode_cuda.hpp"
#include "llmos/kernels/llama_paged_cuda.hpp"
#include "llmos/kernels/nccl_group.hpp"

namespace llmos::kernels {

bool cuda_compiled() {
  return false;
}
int cuda_device_count() {
  return 0;
}
uint64_t cuda_device_memory(int) {
  return 0;
}
uint64_t cuda_device_free_memory(int) {
  return 0;
}
std::string cuda_device_uuid(int) {
  return {};
}
std::string nccl_version() {
  return {};
}

namespace {
const char* no_cuda =
    "this build of llmos has no CUDA kernels (the CUDA toolkit was not found at build time)";
} // namespace

std::string gelu_forward_cuda(float*, const float*, std::size_t, int) {
  return no_cuda;
}

std::string llama_decode_cuda(const llama_decode_weights&, const llama_decode_item*, int32_t,
                              llama_cuda_scratch&, void*, const llama_adapter_weights* const*) {
  return no_cuda;
}

std::string cuda_stream::create(int, bool, std::unique_ptr<cuda_stream>*) {
  return no_cuda;
}
cuda_stream::~cuda_stream() = default;

// Never made in this build (create refuses), so the members below never run.
struct llama_paged_cuda::impl {};
llama_paged_cuda::llama_paged_cuda(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
llama_paged_cuda::~llama_paged_cuda() = default;
std::string llama_paged_cuda::create(int, std::size_t, std::unique_ptr<llama_paged_cuda>*) {
  return no_cuda;
}
float* llama_paged_cuda::keys() const {
  return nullptr;
}
float* llama_paged_cuda::values() const {
  return nullptr;
}
std::string llama_paged_cuda::add_adapter(const llama_decode_weights&, const llama_adapter_weights&,
                                          int32_t*) {
  return no_cuda;
}
std::string llama_paged_cuda::step(const llama_decode_weights&, const llama_decode_item*, int32_t,
                                   const int32_t*) {
  return no_cuda;
}
std::string llama_paged_cuda::host_memory(std::size_t, float**) {
  return no_cuda;
}
std::string llama_paged_cuda::swap(const kv_pool_layout&, float*, const kv_block_copy*, int32_t,
                                   bool) {
  return no_cuda;
}

namespace {
const char* no_nccl =
    "this build of llmos has no CUDA/NCCL (the CUDA toolkit was not found at build time)";
} // namespace

struct nccl_group::impl {};

std::string nccl_group::make_id(std::string*) {
  return no_nccl;
}

std::string nccl_group::join(int, int, int, const std::string&, uint32_t,
                             std::unique_ptr<nccl_group>*) {
  return no_nccl;
}

nccl_group::~nccl_group() = default;

std::string nccl_group::all_reduce_sum(float*, std::size_t, uint32_t) {
  return no_nccl;
}

std::string nccl_group::all_reduce_device(float*, std::size_t, bool, uint32_t) {
  return no_nccl;
}

} // namespace llmos::kernels
