// A server actor's state: its config, the deployed version, the replicas with their batchers,
// and the requests in flight. Shared by server_actor.cpp (requests and batches) and
// deployment.cpp (loading versions, replacing replicas).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataset/tokenize/tokenizer.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/serving.hpp"
#include "model/core/model_spec.hpp"
#include "model/train/batch_decoder.hpp"
#include "serving/core/batcher.hpp"
#include "serving/core/chat_template.hpp"
#include "serving/core/latency_window.hpp"
#include "serving/core/router.hpp"
#include "serving/request_rows.hpp"
#include "serving/serving_metrics.hpp"

namespace llmos::serving {

struct server_config {
  std::string name;                   ///< the server actor's name (metrics label, device names)
  std::string model;                  ///< registry model name
  std::string registry = "registry";  ///< registry actor name (resolved through the directory)
  std::string version = "production"; ///< alias to follow, or "3" / "v3" / "latest"
  uint32_t replicas = 1;
  uint32_t threads = 1; ///< CPU threads of each replica's device
  /// The kind's `device` key: every replica computes on this device actor of the node (a GPU,
  /// say) instead of a CPU device of its own; "" without the key.
  std::string device_name;
  batcher_config batching;
  routing_policy routing = routing_policy::least_outstanding;
  std::string feedback;    ///< feedback analyst that gets the request log ("" = no log)
  double log_sample = 1.0; ///< share of requests logged for it
  /// The decoding keys as the kind got them (checked), for the replicas' model-kind config.
  std::map<std::string, std::string> replica_keys;
  /// Language replicas: LoRA fine-tunes of the model served as adapters over each deployed
  /// version, as registry references "NAME" (its latest version) or "NAME@VERSION|ALIAS";
  /// requests choose one by model name.
  std::vector<std::string> adapters;
  caf::actor manager;             ///< node manager (for the directory); may be null
  registry_actor registry_handle; ///< preset in tests; else looked up by name
};

/// A fine-tune served as adapters: its registry version and the local copy the replicas load.
struct served_adapter {
  std::string name;
  uint32_t version = 0;
  std::string path;
};

/// One loaded registry version: what every replica of it shares.
struct deployed_version {
  uint32_t version = 0;
  bool language = false;
  model::model_spec spec;
  serving::chat_style chat; ///< the family of spec.chat_template, recognised once at deploy
  std::unique_ptr<dataset::tokenizer> tok;
  row_format format;
  std::string weights_path; ///< local copy the replicas loaded
  std::string spec_path;    ///< the spec as a file, for the model kind that spawns the replicas
  std::vector<served_adapter> adapters;
};

struct replica {
  model_actor model; ///< a model actor the node manager spawned (its own device ends with it)
  std::shared_ptr<const deployed_version> dep;
  dynamic_batcher batcher;
  row_format format;
  uint32_t version = 0;
  uint32_t in_flight = 0; ///< rows of the batch on the model (one batch at a time)
  bool tick_pending = false;
  bool draining = false;
  bool canary = false; ///< runs the version on trial, not the deployed one
};

struct row_item {
  uint64_t request = 0;
  uint32_t index = 0;
  std::string bytes;
};

struct pending_request {
  caf::typed_response_promise<predict_reply> promise;
  predict_reply reply;
  uint32_t remaining = 0;
  std::chrono::steady_clock::time_point started;
  std::vector<std::string> texts; ///< kept only when the request is logged for feedback
  bool logged = false;
};

/// A completion on a replica, by its request number (for cancel and priority).
struct completion_in_flight {
  std::size_t replica = 0;
  model_actor model;
  bool cancelled = false;
  /// Answered by the replica's reply; by the server itself when it stops first (CAF 0.17 drops
  /// an unanswered promise silently, and its caller would wait for its timeout).
  caf::typed_response_promise<complete_reply> promise;
};

struct server_state {
  server_config cfg;
  std::string model;
  std::string follows; ///< alias followed ("" when pinned to a number)
  registry_actor registry;
  bool watching = false;
  std::shared_ptr<deployed_version> current;
  std::map<std::size_t, replica> replicas;
  replica_router router;
  std::map<uint64_t, row_item> rows;
  std::map<uint64_t, pending_request> requests;
  std::map<uint64_t, completion_in_flight> completions;
  uint64_t next_id = 1;
  uint64_t spawned = 0; ///< replicas asked of the node manager (names them)
  /// When lost replicas were replaced, within the last minute (a crash loop stops at a few).
  std::deque<std::chrono::steady_clock::time_point> replacements;
  uint64_t weight_files = 0; ///< local weight copies written (names them)
  latency_window latencies{4096};
  uint64_t served = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  uint64_t batches = 0;
  uint64_t batched_rows = 0;
  bool retry_logged = false;
  std::shared_ptr<deployed_version> canary; ///< on trial beside `current` (null = none)
  double canary_share = 0.0;
  double canary_credit = 0.0; ///< accumulates the share; a request goes to the canary per 1.0
  std::string instance;       ///< random: request ids stay unique across restarts
  caf::actor feedback;        ///< the analyst, once found
  bool feedback_lookup = false;
  std::chrono::steady_clock::time_point feedback_retry; ///< no lookup before (after a miss)
  std::vector<std::string> log_backlog; ///< served-request records waiting for the analyst
  std::mt19937_64 rng{std::random_device{}()};
  std::unique_ptr<serving_metrics> metrics;
  static inline const char* name = "llmos.server";

  server_state() = default;
  server_state(const server_state&) = delete;
  server_state& operator=(const server_state&) = delete;
  /// Answers the requests in flight (unavailable), stops every replica and removes the local
  /// weight copies. Here rather than in an attached
  /// functor: CAF 0.17 destroys a stateful actor's state in on_exit, before attachables run, so
  /// a functor reading the state used freed memory ("pure virtual method called" at SIGTERM).
  ~server_state();
};

using server_self = server_actor::stateful_pointer<server_state>;

} // namespace llmos::serving
