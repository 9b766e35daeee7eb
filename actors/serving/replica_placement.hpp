// Placing a server's replicas: each is a model actor the node manager spawns (kind "model",
// listed by `actors` as SERVER.vV.rN, on the server's device or a CPU device of its own), loaded
// with the version's weights and adapters; replicas placed together join together (as the
// deployment, whose old replicas drain, as a canary, or in place of a lost one) or all stop at
// the first failure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/error.hpp>

#include "serving/server_state.hpp"

namespace llmos::serving {

/// Places and loads `count` replicas of `dep`; when all are loaded they join as the deployment
/// (share < 0) or as a canary with that share; then `done`.
void load_replicas(server_self self, std::shared_ptr<deployed_version> dep, uint32_t count,
                   double share, std::function<void(caf::error)> done);

/// Stops a replica's model actor (a replica's own CPU device ends with it; a shared one stays).
void stop_replica(replica& r);

} // namespace llmos::serving
