// The process's Prometheus registry. Every actor of a node process registers its metric families
// here (prometheus-cpp families are thread-safe), and the node's HTTP gateway serves them at
// /metrics and its monitor evaluates alert rules over them: one place, one scrape per node.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace llmos {

/// The registry of this process (created on first use, never destroyed before exit).
prometheus::Registry& process_metrics();

/// The registry in the Prometheus text exposition format.
std::string metrics_text();

/// A metric family of the process registry. Registering a name that exists with the same type
/// returns the existing family, so every actor of the process adds its own labelled series to one.
prometheus::Family<prometheus::Gauge>& gauge_family(const std::string& name,
                                                    const std::string& help);
prometheus::Family<prometheus::Counter>& counter_family(const std::string& name,
                                                        const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram_family(const std::string& name,
                                                            const std::string& help);

} // namespace llmos
