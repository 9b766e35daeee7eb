// A server's Prometheus series (in the process registry, labelled with the model and the server
// actor): requests by outcome, queue length, replicas, batch sizes and latency. Removed when the
// server stops so a redeployed name starts clean.
#pragma once

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace llmos::serving {

class serving_metrics {
public:
  serving_metrics(const std::string& model, const std::string& server);
  ~serving_metrics();
  serving_metrics(const serving_metrics&) = delete;
  serving_metrics& operator=(const serving_metrics&) = delete;

  prometheus::Counter& ok;
  prometheus::Counter& rejected; ///< queue full (429)
  prometheus::Counter& failed;   ///< no replica, bad input, model errors
  prometheus::Gauge& queued;
  prometheus::Gauge& replicas;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& latency; ///< seconds from arrival at the server to the answer
  // Language models: time to first token, inter-token latency, end to end; tokens in and out.
  prometheus::Histogram& ttft;
  prometheus::Histogram& itl;
  prometheus::Histogram& e2e;
  prometheus::Counter& prompt_tokens;
  prometheus::Counter& generated_tokens;

private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Gauge>& queue_family_;
  prometheus::Family<prometheus::Gauge>& replica_family_;
  prometheus::Family<prometheus::Histogram>& batch_family_;
  prometheus::Family<prometheus::Histogram>& latency_family_;
  prometheus::Family<prometheus::Histogram>& ttft_family_;
  prometheus::Family<prometheus::Histogram>& itl_family_;
  prometheus::Family<prometheus::Histogram>& e2e_family_;
  prometheus::Family<prometheus::Counter>& tokens_family_;
};

} // namespace llmos::serving
