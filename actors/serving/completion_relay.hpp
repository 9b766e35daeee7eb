// The relay of one completion: it receives the replica's tokens, turns them into text pieces
// for the client (never splitting a multi-byte character, holding back a tail that may still
// become a stop sequence, cancelling the generation at a stop sequence) and records the token
// times and log-probabilities that the server's reply and metrics read once it has flushed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "serving/server_state.hpp"

namespace llmos::serving {

/// What the relay observed, shared with the server; read after the relay answered its flush.
struct relay_record {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last;
  std::optional<double> first_s;     ///< time to the first token
  std::vector<double> gaps_s;        ///< between tokens (at most 65536)
  std::vector<std::string> logprobs; ///< each token's log-probabilities (JSON), when asked
};

struct relay_options {
  std::shared_ptr<const deployed_version> dep;
  std::vector<int32_t> prompt;
  caf::actor client; ///< gets token_atom pieces; may be null
  uint64_t request = 0;
  std::vector<std::string> stops;
  caf::actor_addr server; ///< weak: the relay must not keep its server alive
  bool want_logprobs = false;
  std::shared_ptr<relay_record> record;
};

/// Spawns the relay. It answers `tick_atom` (the flush) with true after sending the rest of the
/// text, then quits.
caf::actor spawn_completion_relay(caf::actor_system& sys, relay_options opts);

} // namespace llmos::serving
