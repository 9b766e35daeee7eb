#include "serving/serving_metrics.hpp"

#include <prometheus/registry.h>

#include "llmos/runtime/metrics.hpp"

namespace llmos::serving {
namespace {

// Registering a family that already exists with the same name and type returns it, so every
// server of the process shares one family and adds its own labelled series.
auto& requests_family() {
  return counter_family("llmos_serving_requests_total",
                        "Requests answered by serving actors, by outcome");
}

auto& queue_family() {
  return gauge_family("llmos_serving_queue_length", "Rows waiting in replica batchers");
}
auto& replica_family() {
  return gauge_family("llmos_serving_replicas", "Replicas taking requests");
}
auto& batch_family() {
  return histogram_family("llmos_serving_batch_size", "Rows per forward pass");
}
auto& latency_family() {
  return histogram_family("llmos_serving_latency_seconds",
                          "Seconds from arrival at the server to the answer");
}
auto& ttft_family() {
  return histogram_family("llmos_serving_time_to_first_token_seconds",
                          "Seconds from a completion's arrival to its first token");
}
auto& itl_family() {
  return histogram_family("llmos_serving_inter_token_seconds",
                          "Seconds between consecutive tokens of a completion");
}
auto& e2e_family() {
  return histogram_family("llmos_serving_completion_seconds",
                          "Seconds from a completion's arrival to its last token");
}
auto& tokens_family() {
  return counter_family("llmos_serving_tokens_total",
                        "Prompt and generated tokens of completions (rate(): tokens per second)");
}

const prometheus::Histogram::BucketBoundaries& seconds_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return b;
}

} // namespace

serving_metrics::serving_metrics(const std::string& model, const std::string& server)
    : ok(requests_family().Add({{"model", model}, {"server", server}, {"outcome", "ok"}})),
      rejected(
          requests_family().Add({{"model", model}, {"server", server}, {"outcome", "rejected"}})),
      failed(requests_family().Add({{"model", model}, {"server", server}, {"outcome", "failed"}})),
      queued(queue_family().Add({{"model", model}, {"server", server}})),
      replicas(replica_family().Add({{"model", model}, {"server", server}})),
      batch_size(
          batch_family().Add({{"model", model}, {"server", server}},
                             prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})),
      latency(latency_family().Add(
          {{"model", model}, {"server", server}},
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      ttft(ttft_family().Add({{"model", model}, {"server", server}}, seconds_buckets())),
      itl(itl_family().Add({{"model", model}, {"server", server}}, seconds_buckets())),
      e2e(e2e_family().Add({{"model", model}, {"server", server}}, seconds_buckets())),
      prompt_tokens(
          tokens_family().Add({{"model", model}, {"server", server}, {"kind", "prompt"}})),
      generated_tokens(
          tokens_family().Add({{"model", model}, {"server", server}, {"kind", "generated"}})),
      requests_(requests_family()), queue_family_(queue_family()),
      replica_family_(replica_family()), batch_family_(batch_family()),
      latency_family_(latency_family()), ttft_family_(ttft_family()), itl_family_(itl_family()),
      e2e_family_(e2e_family()), tokens_family_(tokens_family()) {}

serving_metrics::~serving_metrics() {
  requests_.Remove(&ok);
  requests_.Remove(&rejected);
  requests_.Remove(&failed);
  queue_family_.Remove(&queued);
  replica_family_.Remove(&replicas);
  batch_family_.Remove(&batch_size);
  latency_family_.Remove(&latency);
  ttft_family_.Remove(&ttft);
  itl_family_.Remove(&itl);
  e2e_family_.Remove(&e2e);
  tokens_family_.Remove(&prompt_tokens);
  tokens_family_.Remove(&generated_tokens);
}

} // namespace llmos::serving
