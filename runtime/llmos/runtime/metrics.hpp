// The process's Prometheus registry. Every actor of a node process registers its metric families
// here (prometheus-cpp families are thread-safe), and the node's HTTP gateway serves them at
// /metrics and its monitor evaluates alert rules over them: one place, one scrape per node.
#pragma once

#include <memory>
#include <string>

#include <prometheus/registry.h>

namespace llmos {

/// The registry of this process (created on first use, never destroyed before exit).
prometheus::Registry& process_metrics();

/// The registry in the Prometheus text exposition format.
std::string metrics_text();

} // namespace llmos
