// A chaos run: three llmos-node processes on loopback under steady training, serving and
// feedback load while another thread kills -9 a random node (and starts it again) or kills a
// random actor (its node restarts it by policy) every few seconds. Afterwards it checks what
// must hold: every topology actor is back, every acknowledged feedback record and every
// published version is still there, and it reports what was tried and what held.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace llmos::chaos {

struct chaos_options {
  int seconds = 60;       ///< how long the load and the kills last
  int interval_ms = 4000; ///< between two kills
  uint64_t seed = 1;      ///< of the choice of victims
  bool kill_seed = true;  ///< node a (it hosts the directory) is a victim too
  std::string keep_dir;   ///< when set, the nodes' folder and logs are kept there
};

/// Runs the cluster, the load and the kills; the report (`held` says whether every check held).
nlohmann::json run(const chaos_options& opts);

} // namespace llmos::chaos
