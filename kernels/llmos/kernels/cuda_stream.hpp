// The CUDA streams a GPU device actor owns, and the streams the device job running on this
// thread should enqueue its GPU work on. The device actor sets them around each job
// (job_stream_scope), so the code a job calls (the engine under its stream, the paged decoder)
// finds them without the job's message carrying a raw handle.
#pragma once

#include <memory>
#include <string>

namespace llmos::kernels {

class cuda_stream {
public:
  /// A stream on GPU `device`. `blocking`: ordered with the legacy default stream both ways (work
  /// that LibTorch queues outside a job, e.g. while loading, is seen by the job and vice versa);
  /// otherwise independent of it (a copy stream, ordered by its users). "" on success.
  static std::string create(int device, bool blocking, std::unique_ptr<cuda_stream>* out);
  ~cuda_stream();
  cuda_stream(const cuda_stream&) = delete;
  cuda_stream& operator=(const cuda_stream&) = delete;

  void* handle() const { return handle_; } ///< the cudaStream_t
  int device() const { return device_; }

private:
  cuda_stream(void* handle, int device) : handle_(handle), device_(device) {}
  void* handle_;
  int device_;
};

/// The streams of the job running on this thread (both null outside a GPU device's job).
struct job_streams {
  void* compute = nullptr; ///< kernels and LibTorch's work
  void* copy = nullptr;    ///< host-device transfers that may overlap the compute stream
};

const job_streams& current_job_streams();

/// Sets current_job_streams() for a scope: the device actor, around each job.
class job_stream_scope {
public:
  explicit job_stream_scope(job_streams streams);
  ~job_stream_scope();
  job_stream_scope(const job_stream_scope&) = delete;
  job_stream_scope& operator=(const job_stream_scope&) = delete;

private:
  job_streams previous_;
};

} // namespace llmos::kernels
