// Data-parallel gradient averaging across replicas, behind one interface for both libraries:
// NCCL when every rank computes on a GPU of its own (the gradients stay in GPU memory, reduced
// on the group's CUDA stream), Gloo (libtorch's c10d ProcessGroupGloo over TCP) otherwise, the
// gradients going through host memory. The choice (collective_backend.hpp) is made when the
// group connects, from where each rank said it computes; two ranks on one GPU are refused there
// unless Gloo was asked for. Rendezvous is a c10d TCPStore hosted by rank 0; the actors tell the
// other ranks its address in messages (ours, not environment variables), and the ranks' places
// and NCCL's unique id travel through the store. No torch here: the engine hands a flat buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/expected.hpp>

namespace llmos::model {

class gradient_group {
public:
  /// Opens rank `rank` of `world`. Rank 0 hosts the store on `port` (0 = any free port, see
  /// store_port()) and does not wait; the other ranks connect to store_host:port. `bind_host` is
  /// the address this rank's Gloo pairs listen on; `backend` is "auto", "nccl" or "gloo".
  /// Nothing blocks until connect().
  static caf::expected<std::shared_ptr<gradient_group>>
  open(const std::string& store_host, uint16_t port, uint32_t rank, uint32_t world,
       const std::string& bind_host = "127.0.0.1", uint32_t timeout_ms = default_timeout_ms,
       const std::string& backend = "auto");

  /// How long a rank waits for the others: to connect, and in each all-reduce.
  static constexpr uint32_t default_timeout_ms = 30000;

  ~gradient_group();

  /// The store's port (rank 0: the one it bound).
  uint16_t store_port() const;

  /// Builds the group for gradients in `device_type`'s memory ("cpu", or "cuda" for GPU
  /// `cuda_index`): every rank says where it computes, the library is chosen, then Gloo's process
  /// group or an NCCL communicator is made. Blocks until every rank connected or the timeout
  /// passed; nothing to do once connected.
  caf::error connect(const std::string& device_type = "cpu", int cuda_index = 0);

  /// Replaces data[0..n) by its mean over all ranks: host memory under Gloo, the GPU's memory
  /// under NCCL (see backend()). Connects for "cpu" when not connected yet.
  caf::error average(float* data, std::size_t n);

  /// "gloo" or "nccl" once connected; "" before.
  const std::string& backend() const;

  uint32_t rank() const;
  uint32_t world() const;

  struct impl;

private:
  explicit gradient_group(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace llmos::model
