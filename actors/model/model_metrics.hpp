// A model actor's series in the process's Prometheus registry (labelled with the model): the
// training step, the latest training loss and samples per second, sampled every 10 steps, beside
// the loss curve the actor keeps for the dashboard; and its continuous batching (sequences
// decoded per step, running and waiting sequences, generated tokens).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/train/batch_decoder.hpp"

namespace llmos::model {

/// Records one sample: appends `loss` to `curve` (at most 5000 points) and sets the gauges.
void record_step(std::vector<double>& curve, const std::string& model, int64_t step, double loss,
                 double samples_per_second);

/// Records one decode step of the continuous batch: `batch` sequences decoded together,
/// `running` and `waiting` after it, `tokens` made.
void record_decode(const std::string& model, std::size_t batch, std::size_t running,
                   std::size_t waiting, std::size_t tokens);

/// The paged KV cache after a decode job: blocks used and free, sequences preempted now, and
/// the decoder's running totals (preemptions, prefix blocks reused) and cancelled requests.
/// A generate request's seconds from arrival to admission into the continuous batch.
void record_queue_time(const std::string& model, double seconds);

void record_kv(const std::string& model, const decoder_stats& stats, uint64_t cancelled);

} // namespace llmos::model
