// The dataset kind's gateway methods: ingest (with progress notifications), stats, sample,
// quarantine, labels from a model (pseudo_label), and pull-mode batch streams for clients
// outside the actor system.
#include "gateway/dataset_methods.hpp"

#include <caf/event_based_actor.hpp>

#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/messages/dataset.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);
// Ingesting the whole SpamAssassin set takes about a minute on one core.
constexpr auto ingest_timeout = std::chrono::minutes(30);
// 100,000 records in chunks of 64 at the server's lowest priority, then a new version.
constexpr auto label_timeout = std::chrono::minutes(30);

dataset_actor target_of(const rpc_call& c) {
  return caf::actor_cast<dataset_actor>(c.target);
}

void ingest(rpc_call& c) {
  auto sink = spawn_progress_sink(c);
  forward_then_stop<dataset_stats>(c, sink, packed_reply, target_of(c), ingest_timeout,
                                   ingest_atom::value, sink);
}

void sample_method(rpc_call& c) {
  call_options o{*c.params, "sample"};
  const auto n = static_cast<uint32_t>(o.whole("n", 5, 1000));
  const auto seed = o.whole("seed", 1);
  if (o.refused(c))
    return;
  forward<std::vector<data_record>>(c, target_of(c), call_timeout, sample_atom::value,
                                    o.text("split"), n, seed);
}

void quarantine_method(rpc_call& c) {
  call_options o{*c.params, "quarantine"};
  const auto limit = static_cast<uint32_t>(o.whole("limit", 20, 10000));
  if (o.refused(c))
    return;
  forward<std::vector<quarantine_item>>(c, target_of(c), call_timeout, quarantine_atom::value,
                                        o.text("rule"), limit);
}

void open_stream_method(rpc_call& c) {
  call_options o{*c.params, "open_stream"};
  stream_request req;
  req.split = o.text("split", "train");
  req.batch_size = o.whole32("batch_size", req.batch_size);
  req.rank = o.whole32("rank", req.rank);
  req.world = o.whole32("world", req.world);
  req.epochs = o.whole32("epochs", req.epochs);
  req.seed = o.whole("seed", 1);
  if (o.refused(c))
    return;
  forward<uint64_t>(c, target_of(c), call_timeout, open_stream_atom::value, std::move(req));
}

void next_batch_method(rpc_call& c) {
  call_options o{*c.params, "next_batch"};
  const auto id = o.whole("stream", 0);
  if (o.refused(c))
    return;
  forward<data_batch>(c, target_of(c), call_timeout, next_batch_atom::value, id);
}

/// Labels from a model: the server is looked up by name here, then the data set asks it.
void pseudo_label_method(rpc_call& c) {
  call_options o{*c.params, "pseudo_label"};
  const auto model = o.text("model");
  o.check(!model.empty(), "pseudo_label: model=SERVER (a deployed classifier) is required");
  const auto threshold = o.real("threshold", 0.9);
  const auto records = o.whole32("max_records", 1000);
  if (o.refused(c))
    return;
  auto ctx = std::make_shared<rpc_call>(c);
  resolve_actor(c, model, [=](caf::actor server) {
    forward<dataset_stats>(*ctx, target_of(*ctx), label_timeout, pseudo_label_atom::value, model,
                           server, threshold, records);
  });
}

/// The review queue: the server is looked up by name, then the data set asks it.
void review_method(rpc_call& c) {
  call_options o{*c.params, "review"};
  const auto model = o.text("model");
  o.check(!model.empty(), "review: model=SERVER (a deployed classifier) is required");
  const auto count = o.whole32("n", 10);
  if (o.refused(c))
    return;
  auto ctx = std::make_shared<rpc_call>(c);
  resolve_actor(c, model, [=](caf::actor server) {
    forward<std::vector<review_item>>(*ctx, target_of(*ctx), label_timeout, review_atom::value,
                                      model, server, count);
  });
}

/// One label a person gives: `label id=ID label=L`.
void label_method(rpc_call& c) {
  call_options o{*c.params, "label"};
  if (o.refused(c))
    return;
  std::vector<pseudo_label_item> items{{o.text("id"), o.text("label"), 1.0}};
  forward<dataset_stats>(c, target_of(c), label_timeout, human_label_atom::value, std::move(items));
}

} // namespace

void add_dataset_methods(method_table& t) {
  t.add("dataset",
        {"ingest", true, "send DATASET ingest",
         "run the pipeline and store a new version (progress as notifications)", ingest});
  t.add("dataset", {"stats", false, "send DATASET stats", "statistics of the current version",
                    [](rpc_call& c) {
                      forward<dataset_stats>(c, target_of(c), call_timeout, stats_atom::value);
                    }});
  t.add("dataset", {"sample", false, "send DATASET sample [split=train] [n=5] [seed=1]",
                    "records of a split", sample_method});
  t.add("dataset",
        {"quarantine", false, "send DATASET quarantine [rule=R] [limit=20]",
         "records the pipeline refused, with rule, reason and origin", quarantine_method});
  t.add("dataset", {"open_stream", false,
                    "send DATASET open_stream [split=train] [batch_size=32] [rank=0] [world=1] "
                    "[seed=1] [epochs=1]",
                    "a pull stream of batches for next_batch", open_stream_method});
  t.add("dataset",
        {"pseudo_label", true,
         "send DATASET pseudo_label model=SERVER [threshold=0.9] [max_records=1000]",
         "label unlabelled records with a deployed classifier's predictions at or above the "
         "threshold, stored as a new version (agreement with existing labels reported)",
         pseudo_label_method});
  t.add("dataset",
        {"review", false, "send DATASET review model=SERVER [n=10]",
         "unlabelled records the model is least sure of, for people to label", review_method});
  t.add("dataset", {"label", true, "send DATASET label id=RECORD label=LABEL",
                    "a person's label: kept, outranks rules and models, applied now (a new "
                    "version) and by every later ingest",
                    label_method});
  t.add("dataset", {"next_batch", false, "send DATASET next_batch stream=ID",
                    "the next batch of a pull stream", next_batch_method});
}

} // namespace llmos
