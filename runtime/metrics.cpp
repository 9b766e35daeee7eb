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

} // namespace llmos
