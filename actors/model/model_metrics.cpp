#include "model/model_metrics.hpp"

#include <prometheus/gauge.h>

#include "llmos/runtime/metrics.hpp"

namespace llmos::model {
namespace {

prometheus::Family<prometheus::Gauge>& family(const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(process_metrics());
}

} // namespace

void record_step(std::vector<double>& curve, const std::string& model, int64_t step, double loss,
                 double samples_per_second) {
  if (curve.size() < 5000)
    curve.push_back(loss);
  static auto& steps = family("llmos_model_step", "Optimizer steps of the current training run");
  static auto& losses = family("llmos_model_loss", "Latest training loss");
  static auto& speed = family("llmos_model_samples_per_second", "Training throughput");
  const prometheus::Labels labels{{"model", model}};
  steps.Add(labels).Set(static_cast<double>(step));
  losses.Add(labels).Set(loss);
  speed.Add(labels).Set(samples_per_second);
}

} // namespace llmos::model
