// The thread's job streams: plain C++ (no CUDA), so that every build has them; a CPU device's
// jobs see none.
#include "llmos/kernels/cuda_stream.hpp"

namespace llmos::kernels {
namespace {
thread_local job_streams current;
} // namespace

const job_streams& current_job_streams() {
  return current;
}

job_stream_scope::job_stream_scope(job_streams streams) : previous_(current) {
  current = streams;
}

job_stream_scope::~job_stream_scope() {
  current = previous_;
}

} // namespace llmos::kernels
