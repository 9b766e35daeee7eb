// Built only when the CUDA toolkit is absent: the CUDA entry points exist and say so, so that
// callers need no #ifdefs and fall back to the CPU kernels.
#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/gelu.hpp"
#include "llmos/kernels/llama_decode_cuda.hpp"
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
std::string nccl_version() {
  return {};
}

std::string gelu_forward_cuda(float*, const float*, std::size_t, int) {
  return "this build of llmos has no CUDA kernels (the CUDA toolkit was not found at build time)";
}

std::string llama_decode_cuda(const llama_decode_weights&, const llama_decode_item*, int32_t,
                              llama_cuda_scratch&, void*) {
  return "this build of llmos has no CUDA kernels (the CUDA toolkit was not found at build time)";
}

namespace {
const char* no_nccl =
    "this build of llmos has no CUDA/NCCL (the CUDA toolkit was not found at build time)";
} // namespace

struct nccl_group::impl {};

std::string nccl_group::make_id(std::string*) {
  return no_nccl;
}

std::string nccl_group::join(int, int, int, const std::string&, std::unique_ptr<nccl_group>*) {
  return no_nccl;
}

nccl_group::~nccl_group() = default;

std::string nccl_group::all_reduce_sum(float*, std::size_t) {
  return no_nccl;
}

} // namespace llmos::kernels
