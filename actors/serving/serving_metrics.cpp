#include "serving/serving_metrics.hpp"

#include <prometheus/registry.h>

#include "llmos/runtime/metrics.hpp"

namespace llmos::serving {
namespace {

// Registering a family that already exists with the same name and type returns it, so every
// server of the process shares one family and adds its own labelled series.
auto& requests_family() {
  return prometheus::BuildCounter()
      .Name("llmos_serving_requests_total")
      .Help("Requests answered by serving actors, by outcome")
      .Register(process_metrics());
}

auto& gauge_family(const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(process_metrics());
}

auto& histogram_family(const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(process_metrics());
}

} // namespace

serving_metrics::serving_metrics(const std::string& model, const std::string& server)
    : ok(requests_family().Add({{"model", model}, {"server", server}, {"outcome", "ok"}})),
      rejected(
          requests_family().Add({{"model", model}, {"server", server}, {"outcome", "rejected"}})),
      failed(requests_family().Add({{"model", model}, {"server", server}, {"outcome", "failed"}})),
      queued(gauge_family("llmos_serving_queue_length", "Rows waiting in replica batchers")
                 .Add({{"model", model}, {"server", server}})),
      replicas(gauge_family("llmos_serving_replicas", "Replicas taking requests")
                   .Add({{"model", model}, {"server", server}})),
      batch_size(histogram_family("llmos_serving_batch_size", "Rows per forward pass")
                     .Add({{"model", model}, {"server", server}},
                          prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})),
      latency(histogram_family("llmos_serving_latency_seconds",
                               "Seconds from arrival at the server to the answer")
                  .Add({{"model", model}, {"server", server}},
                       prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                               0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                               5, 10})),
      requests_(requests_family()),
      queue_family_(gauge_family("llmos_serving_queue_length", "Rows waiting in replica batchers")),
      replica_family_(gauge_family("llmos_serving_replicas", "Replicas taking requests")),
      batch_family_(histogram_family("llmos_serving_batch_size", "Rows per forward pass")),
      latency_family_(histogram_family("llmos_serving_latency_seconds",
                                       "Seconds from arrival at the server to the answer")) {}

serving_metrics::~serving_metrics() {
  requests_.Remove(&ok);
  requests_.Remove(&rejected);
  requests_.Remove(&failed);
  queue_family_.Remove(&queued);
  replica_family_.Remove(&replicas);
  batch_family_.Remove(&batch_size);
  latency_family_.Remove(&latency);
}

} // namespace llmos::serving
