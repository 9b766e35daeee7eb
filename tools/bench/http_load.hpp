// A closed-loop HTTP load of predictions: keep-alive clients each sending one text per request
// to POST /v1/models/MODEL:predict for a while (serving and hardening benchmarks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmos::bench {

struct load_result {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t errors = 0;
};

/// True once the HTTP gateway on `port` answers /readyz with 200 (polled every 100 ms, 30 s).
bool wait_until_ready(uint16_t port);

/// `clients` keep-alive HTTP clients each sending one text per request for `seconds`, after
/// each has connected and sent one request (connection set-up is not what is measured).
load_result drive(uint16_t port, const std::string& model, const std::vector<std::string>& texts,
                  int clients, double seconds);

} // namespace llmos::bench
