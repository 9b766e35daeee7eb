// One device job of the model actor's decode loop (decode_loop.cpp): what the actor hands the
// device (cancels, priorities, adapters, new sequences) and what the device hands back (admitted
// ids, events, the decoder's state), and the device's side of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "llmos/messages/device.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::model {

/// What a step job hands back to the actor.
struct step_result {
  std::vector<caf::expected<uint64_t>> admitted;
  caf::expected<std::vector<model::sequence_event>> events{caf::error{}};
  std::size_t widest = 0; ///< most sequences one of the job's steps decoded
  std::vector<model::sequence_info> sequences;
  model::decoder_stats stats;
};

/// A job keeps stepping while no sequence ends, for at most this long: a hand-off between the
/// actor and its device costs more than a decode step of a small model (measured ~0.3 ms per
/// job against ~0.1 ms per step), and a request that arrives meanwhile joins after it.
constexpr auto step_budget = std::chrono::milliseconds(2);

/// The device's side of one job: what the actor handed over since the last one (cancels,
/// priorities, adapters, new sequences), then steps while no sequence ends, for at most
/// step_budget.
struct step_job {
  std::shared_ptr<model::engine> eng; ///< kept alive while the job runs (and its decoder with it)
  std::shared_ptr<model::batch_decoder> decoder;
  std::shared_ptr<std::vector<model::sequence_request>> admits;
  std::shared_ptr<step_result> result;
  std::vector<std::shared_ptr<const model::lora_adapter>> adapters;
  std::vector<uint64_t> cancels;
  std::vector<std::pair<uint64_t, int32_t>> priorities;

  void operator()(const device_info& d) const;

  /// Steps while no sequence ends, for at most step_budget.
  caf::expected<std::vector<model::sequence_event>> steps() const;
};

} // namespace llmos::model
