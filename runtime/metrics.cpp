#include "llmos/runtime/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace llmos {

prometheus::Registry& process_metrics() {
  // Leaked on purpose: actors may still update their metrics while statics are destroyed.
  static auto* registry = new prometheus::Registry{};
  return *registry;
}

std::string metrics_text() {
  return prometheus::TextSerializer{}.Serialize(process_metrics().Collect());
}

prometheus::Family<prometheus::Gauge>& gauge_family(const std::string& name,
                                                    const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(process_metrics());
}

prometheus::Family<prometheus::Counter>& counter_family(const std::string& name,
                                                        const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(process_metrics());
}

prometheus::Family<prometheus::Histogram>& histogram_family(const std::string& name,
                                                            const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(process_metrics());
}

} // namespace llmos
