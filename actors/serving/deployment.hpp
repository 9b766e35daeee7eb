// Deploying registry versions on a server's replicas: resolve the reference, fetch the package,
// load it on fresh replicas (placed by replica_placement.*), then switch routing to them and let
// the old ones drain. Also the completion path of language models (completion.cpp: the replica's
// continuous batch decodes it beside other sequences).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "serving/server_state.hpp"

namespace llmos::serving {

/// Deploys `ref`; on failure retries every second until a version is deployed.
void start(server_self self, const std::string& ref);

/// The registry the server watched went down: find it again (its node restarts it) and watch
/// it, retrying every second until it is back.
void rewatch_registry(server_self self);

/// Deploys `ref` ("3", "v3", "latest" or an alias, which the server then follows); `done` gets
/// the error or none once the new replicas take requests.
void deploy(server_self self, const std::string& ref, std::function<void(caf::error)> done);

/// Loads `ref` on one replica of its own beside the deployed version and sends it `share` of
/// the requests that name no version; replaces a running canary.
void deploy_canary(server_self self, const std::string& ref, double share,
                   std::function<void(caf::error)> done);

/// Ends the canary (its replica drains and stops); nothing when none runs.
void end_canary(server_state& st);

/// The replica for a request of `version` (0 = any): the canary's for its share of unpinned
/// requests and for its own version, else one of the deployment's.
std::optional<std::size_t> pick_replica(server_state& st, uint32_t version);

/// Drops every replica: queued requests are answered unavailable.
void unload(server_state& st);

/// A replica (model actor) went down: its rows fail, routing forgets it. True when it served
/// the deployed version (not draining, not a canary): the server should replace it.
bool replica_lost(server_state& st, const caf::actor_addr& source);

/// Places and loads one replica of the deployed version in place of a lost one (at most a few a
/// minute: a replica that dies whenever it starts is not replaced forever).
void replace_replica(server_self self);

/// Stops draining replicas that have nothing queued or in flight.
void retire_idle(server_state& st);

/// Sets the queue and replica gauges from the replicas.
void update_gauges(server_state& st);

/// Removes a version's local weight copies (its adapters' too).
void remove_files(const deployed_version& dep);

/// Stops all replicas (the server is going away).
void stop_all(server_state& st);

/// Completes a prompt on the least loaded replica, streaming text pieces.
caf::result<complete_reply> complete(server_self self, complete_request& req);

/// Cancels completion `request` on its replica (its reply then carries finish_reason
/// "cancelled" and the text so far); false when no completion has that number.
bool cancel_completion(server_self self, uint64_t request);

/// Passes a new priority for completion `request` to its replica; false when unknown.
bool prioritise_completion(server_self self, uint64_t request, int32_t priority);

/// Every language replica's generations, each row naming its replica.
caf::result<std::vector<sequence_row>> list_sequences(server_self self);

} // namespace llmos::serving
