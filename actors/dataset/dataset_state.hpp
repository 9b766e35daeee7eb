// The dataset actor's state, shared by its files: dataset_actor.cpp (the conversation, ingest,
// samples and streams) and pseudo_labelling.cpp (labels from a model or from people, stored as a
// new version; the review queue). Ingests and label runs are workers (worker_threads.hpp) tracked
// in `running`: one at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "dataset/batch_streams.hpp"
#include "dataset/dataset_view.hpp"
#include "dataset/pipeline_runner.hpp"
#include "llmos/messages/dataset.hpp"

namespace llmos {

// (ingest_atom, run id): a worker (ingest or labelling) is done; not part of the public
// interface.
// (tick_atom): a scheduled ingest is due (the pipeline's schedule:); the actor sends it to
// itself.
using dataset_impl =
    dataset_actor::extend<caf::reacts_to<ingest_atom, uint64_t>, caf::reacts_to<tick_atom>>;

/// What the worker hands back; shared between the worker's thread and the actor.
struct ingest_outcome {
  std::optional<caf::expected<dataset::pipeline_result>> result;
};

struct dataset_state {
  dataset::pipeline_spec spec;
  std::string actor_name; ///< its name in the directory (a scheduled ingest task names it)
  caf::actor manager;     ///< its node's manager (finds the scheduler); null in unit tests
  std::shared_ptr<dataset::dataset_view> view; ///< the current version
  /// The version each open stream was opened on: an ingest never changes the records (and their
  /// number) under a running stream, whose order indexes that version's split.
  std::map<uint64_t, std::shared_ptr<const dataset::dataset_view>> stream_views;
  dataset_stats stats;
  dataset::batch_streams streams;
  uint64_t runs = 0;
  std::map<uint64_t,
           std::pair<std::shared_ptr<ingest_outcome>, caf::typed_response_promise<dataset_stats>>>
      running;
  static inline const char* name = "llmos.dataset";
};

using self_ptr = dataset_impl::stateful_pointer<dataset_state>;

/// The error for a request that needs a version when none was ingested yet.
caf::error no_version(const dataset_state& st);

/// Registers a run (ingest or labelling) answered through `rp` when its worker reports back
/// with (ingest_atom, run); answers its id, or nothing after delivering "already running".
std::optional<uint64_t> begin_run(self_ptr self, std::shared_ptr<ingest_outcome> outcome,
                                  caf::typed_response_promise<dataset_stats> rp);

/// Ends a run with an error before its worker started.
void fail_run(self_ptr self, uint64_t run, caf::error err);

/// Labels from a model actor (a server: predict_atom) for up to `max_records` unlabelled
/// records, stored as a new version (pseudo_labelling.cpp).
caf::typed_response_promise<dataset_stats> label_with_model(self_ptr self, const std::string& model,
                                                            caf::actor server, double threshold,
                                                            uint32_t max_records);

/// People's labels: kept durably in the human-labels file, then a new version with them.
caf::typed_response_promise<dataset_stats>
store_people_labels(self_ptr self, const std::vector<pseudo_label_item>& items);

/// The review queue: up to n unlabelled records `server` is least sure of.
caf::typed_response_promise<std::vector<review_item>>
review_queue(self_ptr self, const std::string& model, caf::actor server, uint32_t n);

/// Labels a client proposes, stored as a new version the same way.
caf::typed_response_promise<dataset_stats>
store_proposed_labels(self_ptr self, const std::vector<pseudo_label_item>& items, double threshold);

} // namespace llmos
