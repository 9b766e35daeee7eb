// Batch streams as a plain class: which records of a split each data-parallel replica gets, in
// which shuffled order per epoch, how many batches it may still be sent (credits), and how a
// batch is packed (token ids padded to max_length, or pixels). The dataset actor only moves
// messages; every decision is here and unit-tested. Streams are opened by clients (RPC
// `open_stream`) as well as by models, and each pins the data set version it reads: their number
// is bounded (`overloaded` beyond it) and a stream nobody used for `idle` is dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/dataset_view.hpp"
#include "llmos/messages/dataset.hpp"

namespace llmos::dataset {

class batch_streams {
public:
  using clock = std::chrono::steady_clock;

  explicit batch_streams(std::size_t limit = 256,
                         std::chrono::seconds idle = std::chrono::minutes(30))
      : limit_(limit), idle_(idle) {}

  /// Opens a stream over `view`; bad_params for an unknown split, rank >= world, batch 0;
  /// overloaded when `limit` streams are open after the idle ones were dropped (expire()).
  caf::expected<uint64_t> open(const dataset_view& view, const stream_request& req,
                               clock::time_point now = clock::now());

  /// Adds credit; false for an unknown stream.
  bool add_credit(uint64_t id, uint32_t n, clock::time_point now = clock::now());

  /// Drops the streams nobody opened, fed credit or read from for `idle`; answers their ids.
  std::vector<uint64_t> expire(clock::time_point now);

  /// True when the stream may send another batch now (credit left and not finished).
  bool can_send(uint64_t id) const;

  /// The next batch (uses one credit when the stream has a consumer); bad_params when the
  /// stream is unknown or finished. A slice without records gives one empty last batch.
  caf::expected<data_batch> next(const dataset_view& view, uint64_t id,
                                 clock::time_point now = clock::now());

  /// The consumer of a stream (null for pull streams).
  caf::actor consumer(uint64_t id) const;

  void close(uint64_t id);
  std::size_t size() const { return streams_.size(); }

  /// Indices of split records replica `rank` of `world` gets in `epoch` (shuffled with
  /// seed + epoch, then every world-th from rank on): disjoint across ranks, complete together.
  static std::vector<uint32_t> order_for(std::size_t split_size, uint64_t seed, uint32_t epoch,
                                         uint32_t rank, uint32_t world);

private:
  struct stream {
    stream_request req;
    std::vector<uint32_t> order;
    std::size_t pos = 0;
    uint32_t epoch = 0;
    uint64_t seq = 0;
    uint32_t credits = 0;
    bool finished = false;
    clock::time_point used; ///< last open, credit or batch
  };
  std::map<uint64_t, stream> streams_;
  uint64_t next_id_ = 1;
  std::size_t limit_;
  std::chrono::seconds idle_;
};

} // namespace llmos::dataset
