// A model actor's training series in the process's Prometheus registry (labelled with the
// model): the step, the latest training loss and samples per second, sampled every 10 steps,
// beside the loss curve the actor keeps for the dashboard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmos::model {

/// Records one sample: appends `loss` to `curve` (at most 5000 points) and sets the gauges.
void record_step(std::vector<double>& curve, const std::string& model, int64_t step, double loss,
                 double samples_per_second);

} // namespace llmos::model
