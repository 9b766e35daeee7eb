// Data-parallel gradient averaging across replicas, through Gloo (libtorch's c10d
// ProcessGroupGloo) over TCP. Rendezvous is a c10d TCPStore hosted by rank 0; the actors tell
// the other ranks its address in messages (ours, not environment variables). No torch here: the
// engine hands a flat float buffer.
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
  /// the address this rank's Gloo pairs listen on. Nothing blocks until connect().
  static caf::expected<std::shared_ptr<gradient_group>>
  open(const std::string& store_host, uint16_t port, uint32_t rank, uint32_t world,
       const std::string& bind_host = "127.0.0.1", uint32_t timeout_ms = 30000);

  ~gradient_group();

  /// The store's port (rank 0: the one it bound).
  uint16_t store_port() const;

  /// Builds the Gloo process group: blocks until every rank connected or the timeout passed.
  caf::error connect();

  /// Replaces data[0..n) by its mean over all ranks (all-reduce sum, then / world).
  caf::error average(float* data, std::size_t n);

  uint32_t rank() const;
  uint32_t world() const;

  struct impl;

private:
  explicit gradient_group(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace llmos::model
