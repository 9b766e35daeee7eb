#include "dataset/batch_streams.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "llmos/messages/error.hpp"

namespace llmos::dataset {

std::vector<uint32_t> batch_streams::order_for(std::size_t split_size, uint64_t seed,
                                               uint32_t epoch, uint32_t rank, uint32_t world) {
  std::vector<uint32_t> all(split_size);
  for (std::size_t i = 0; i < split_size; ++i)
    all[i] = static_cast<uint32_t>(i);
  // Every replica shuffles with the same seed, so their slices of one permutation never overlap.
  std::mt19937_64 rng{seed + epoch};
  for (std::size_t i = split_size; i > 1; --i)
    std::swap(all[i - 1], all[rng() % i]);
  std::vector<uint32_t> mine;
  for (std::size_t i = rank; i < split_size; i += world)
    mine.push_back(all[i]);
  return mine;
}

caf::expected<uint64_t> batch_streams::open(const dataset_view& view, const stream_request& req,
                                            clock::time_point now) {
  if (!dataset_view::is_split(req.split))
    return make_llmos_error(error_code::bad_params, "open_stream: split '" + req.split +
                                                        "' is not train, validation or test");
  if (req.world == 0 || req.rank >= req.world)
    return make_llmos_error(error_code::bad_params,
                            "open_stream: rank " + std::to_string(req.rank) +
                                " must be below world " + std::to_string(req.world));
  if (req.batch_size == 0 || req.epochs == 0)
    return make_llmos_error(error_code::bad_params,
                            "open_stream: batch_size and epochs must be at least 1");
  expire(now);
  if (streams_.size() >= limit_)
    return make_llmos_error(error_code::overloaded,
                            "open_stream: " + std::to_string(limit_) +
                                " streams are open on this data set; close one (close_stream) or "
                                "wait for idle ones to expire");
  stream s;
  s.req = req;
  s.credits = req.credits;
  s.used = now;
  s.order = order_for(view.split(req.split).size(), req.seed, 0, req.rank, req.world);
  const auto id = next_id_++;
  streams_.emplace(id, std::move(s));
  return id;
}

bool batch_streams::add_credit(uint64_t id, uint32_t n, clock::time_point now) {
  auto i = streams_.find(id);
  if (i == streams_.end())
    return false;
  i->second.credits += n;
  i->second.used = now;
  return true;
}

std::vector<uint64_t> batch_streams::expire(clock::time_point now) {
  std::vector<uint64_t> gone;
  for (auto i = streams_.begin(); i != streams_.end();)
    if (now - i->second.used >= idle_) {
      gone.push_back(i->first);
      i = streams_.erase(i);
    } else {
      ++i;
    }
  return gone;
}

bool batch_streams::can_send(uint64_t id) const {
  auto i = streams_.find(id);
  return i != streams_.end() && !i->second.finished && i->second.credits > 0;
}

caf::actor batch_streams::consumer(uint64_t id) const {
  auto i = streams_.find(id);
  return i == streams_.end() ? caf::actor{} : i->second.req.consumer;
}

void batch_streams::close(uint64_t id) {
  streams_.erase(id);
}

caf::expected<data_batch> batch_streams::next(const dataset_view& view, uint64_t id,
                                              clock::time_point now) {
  auto i = streams_.find(id);
  if (i == streams_.end())
    return make_llmos_error(error_code::bad_params,
                            "stream " + std::to_string(id) + " is not open (closed or finished)");
  auto& s = i->second;
  s.used = now;
  if (s.finished)
    return make_llmos_error(error_code::bad_params,
                            "stream " + std::to_string(id) + " has sent its last batch");
  const auto& records = view.split(s.req.split);
  const std::size_t n = std::min<std::size_t>(s.req.batch_size, s.order.size() - s.pos);
  data_batch b;
  b.stream = id;
  b.seq = s.seq++;
  b.epoch = s.epoch;
  if (view.images()) {
    // A slice without records (more replicas than records) has no image to take the size from.
    const auto* first = n > 0 ? &records[s.order[s.pos]] : nullptr;
    b.inputs.dtype = "u8";
    b.inputs.shape = {static_cast<int64_t>(n), first ? first->rows : 0u, first ? first->cols : 0u};
    b.inputs.data.reserve(n * (first ? first->image.size() : 0u));
  } else {
    b.inputs.dtype = "i32";
    b.inputs.shape = {static_cast<int64_t>(n), view.max_length()};
    b.inputs.data.resize(n * view.max_length() * sizeof(int32_t));
  }
  for (std::size_t k = 0; k < n; ++k) {
    const auto& r = records[s.order[s.pos + k]];
    b.ids.push_back(r.id);
    b.labels.push_back(r.label);
    if (view.images()) {
      b.inputs.data += r.image;
      continue;
    }
    // Token ids are cut or padded to max_length so a batch is one dense tensor.
    std::vector<int32_t> row(view.max_length(), view.pad_id());
    std::copy_n(r.tokens.begin(), std::min<std::size_t>(r.tokens.size(), row.size()), row.begin());
    std::memcpy(b.inputs.data.data() + k * row.size() * sizeof(int32_t), row.data(),
                row.size() * sizeof(int32_t));
  }
  s.pos += n;
  if (s.pos == s.order.size()) {
    // An empty slice ends at once with one empty batch: its consumer still gets `last`.
    if (s.epoch + 1 < s.req.epochs && !s.order.empty()) {
      ++s.epoch;
      s.pos = 0;
      s.order = order_for(records.size(), s.req.seed, s.epoch, s.req.rank, s.req.world);
    } else {
      s.finished = true;
      b.last = true;
    }
  }
  if (s.req.consumer && s.credits > 0)
    --s.credits;
  return b;
}

} // namespace llmos::dataset
