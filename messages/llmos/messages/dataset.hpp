// The dataset conversation: a dataset actor runs its pipeline (read sources, clean, annotate,
// split, augment, tokenise, store shards) on `ingest`, answers statistics, samples and the
// quarantine, and streams shuffled batches to model actors, local or remote, with credit-based
// back-pressure: a consumer opens a stream with some credits, receives at most that many
// (batch_atom, data_batch) messages, and returns credits as it consumes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/device.hpp"
#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// Progress of a long operation, sent as (progress_atom, progress_event) to a subscriber.
struct progress_event {
  std::string task;  ///< e.g. "ingest spam"
  std::string stage; ///< e.g. "read", "clean", "store"
  uint64_t done = 0;
  uint64_t total = 0; ///< 0 when unknown
  std::string message;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, progress_event& x) {
  return f(caf::meta::type_name("progress_event"), field("task"), x.task, field("stage"), x.stage,
           field("done"), x.done, field("total"), x.total, field("message"), x.message);
}

/// What an ingest produced (and what `stats` answers).
struct dataset_stats {
  std::string dataset;
  std::string version;  ///< content hash; "" before the first ingest
  uint64_t records = 0; ///< after cleaning, before augmentation
  uint64_t train = 0;
  uint64_t validation = 0;
  uint64_t test = 0;
  uint64_t augmented = 0;
  std::map<std::string, uint64_t> removed; ///< rule -> records it quarantined
  std::map<std::string, uint64_t> labels;  ///< label -> records
  std::string report;                      ///< full statistics as JSON text (rules, LFs, ...)
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, dataset_stats& x) {
  return f(caf::meta::type_name("dataset_stats"), field("dataset"), x.dataset, field("version"),
           x.version, field("records"), x.records, field("train"), x.train, field("validation"),
           x.validation, field("test"), x.test, field("augmented"), x.augmented, field("removed"),
           x.removed, field("labels"), x.labels, json_field("report"), x.report);
}

/// One stored record (samples).
struct data_record {
  std::string id;
  std::string text;
  std::string label;
  std::string split;
  bool augmented = false;
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::string image;        ///< rows*cols uint8 pixels for images
  std::string origin;       ///< "path:line"
  std::string label_source; ///< "" (the source's own), labelling_functions, model or human
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, data_record& x) {
  return f(caf::meta::type_name("data_record"), field("id"), x.id, field("text"), x.text,
           field("label"), x.label, field("split"), x.split, field("augmented"), x.augmented,
           field("rows"), x.rows, field("cols"), x.cols, bytes_field("image"), x.image,
           field("origin"), x.origin, field("label_source"), x.label_source);
}

/// One quarantined record.
struct quarantine_item {
  std::string rule;
  std::string reason;
  std::string origin;
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, quarantine_item& x) {
  return f(caf::meta::type_name("quarantine_item"), field("rule"), x.rule, field("reason"),
           x.reason, field("origin"), x.origin, field("text"), x.text);
}

/// Opens a batch stream over one split, for one data-parallel replica.
struct stream_request {
  std::string split = "train";
  uint32_t rank = 0;  ///< this replica; it gets every record i with i % world == rank
  uint32_t world = 1; ///< number of replicas
  uint32_t batch_size = 32;
  uint32_t credits = 4; ///< batches the dataset may send before the consumer returns credit
  uint64_t seed = 1;    ///< shuffle seed (epoch e uses seed + e)
  uint32_t epochs = 1;
  caf::actor consumer; ///< receives (batch_atom, data_batch); null = pull with next_batch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_request& x) {
  return f(caf::meta::type_name("stream_request"), field("split"), x.split, field("rank"), x.rank,
           field("world"), x.world, field("batch_size"), x.batch_size, field("credits"), x.credits,
           field("seed"), x.seed, field("epochs"), x.epochs, x.consumer);
}

/// A batch: token ids (i32 [batch, max_length], 0-padded) for text sets, pixels (u8 [batch, rows,
/// cols]) for image sets, and the labels as strings.
struct data_batch {
  uint64_t stream = 0;
  uint64_t seq = 0;
  uint32_t epoch = 0;
  std::vector<std::string> ids;
  std::vector<std::string> labels;
  tensor_bytes inputs;
  bool last = false; ///< no more batches in this stream
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, data_batch& x) {
  return f(caf::meta::type_name("data_batch"), field("stream"), x.stream, field("seq"), x.seq,
           field("epoch"), x.epoch, field("ids"), x.ids, field("labels"), x.labels, field("inputs"),
           x.inputs, field("last"), x.last);
}

/// A label a model proposes for a record, with its confidence.
struct pseudo_label_item {
  std::string record_id;
  std::string label;
  double confidence = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pseudo_label_item& x) {
  return f(caf::meta::type_name("pseudo_label_item"), field("id"), x.record_id, field("label"),
           x.label, field("confidence"), x.confidence);
}

/// A record for a person to label, with what a model thinks of it (least confident first).
struct review_item {
  std::string record_id;
  std::string text;
  std::string split;
  std::string suggested; ///< the model's label
  double confidence = 0; ///< the model's probability of `suggested`
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, review_item& x) {
  return f(caf::meta::type_name("review_item"), field("id"), x.record_id, field("text"), x.text,
           field("split"), x.split, field("suggested"), x.suggested, field("confidence"),
           x.confidence);
}

/// The dataset actor's typed interface.
using dataset_actor = caf::typed_actor<
    // client -> dataset: run the pipeline; progress goes to the given actor (may be null).
    // Fails with bad_config (pipeline file), io_failed (sources, storage).
    caf::replies_to<ingest_atom, caf::actor>::with<dataset_stats>,
    // client -> dataset: statistics of the current version.
    caf::replies_to<stats_atom>::with<dataset_stats>,
    // client -> dataset: the current version's tokenizer, serialized ("" for image data).
    caf::replies_to<tokenizer_atom>::with<std::string>,
    // client -> dataset: n records of a split ("" = any), chosen with a seed.
    caf::replies_to<sample_atom, std::string, uint32_t, uint64_t>::with<std::vector<data_record>>,
    // client -> dataset: quarantined records of one rule ("" = all), at most `limit`.
    caf::replies_to<quarantine_atom, std::string, uint32_t>::with<std::vector<quarantine_item>>,
    // model -> dataset: open a stream; returns its id. Fails with bad_params (split, rank/world).
    caf::replies_to<open_stream_atom, stream_request>::with<uint64_t>,
    // consumer -> dataset: n more batches may be sent on this stream.
    caf::reacts_to<credit_atom, uint64_t, uint32_t>,
    // client -> dataset: pull the next batch of a stream opened without a consumer.
    caf::replies_to<next_batch_atom, uint64_t>::with<data_batch>,
    // consumer -> dataset: the stream is no longer needed.
    caf::reacts_to<close_stream_atom, uint64_t>,
    // client -> dataset: labels for unlabelled records at or above `min_confidence` (records
    // with a label keep it), stored as a new version that becomes the current one; answers its
    // statistics (report: statistics.pseudo_labels). Nothing applied: no new version.
    caf::replies_to<pseudo_label_atom, std::vector<pseudo_label_item>, double>::with<dataset_stats>,
    // client -> dataset: the same with labels asked from a model: `server` (named `model` in the
    // manifest) classifies up to `max_records` unlabelled records (predict_atom, lowest
    // priority) and a sample of labelled ones, whose agreement is reported. Fails with
    // bad_params (threshold, max_records, nothing to label, a run in progress) or the server's
    // error.
    caf::replies_to<pseudo_label_atom, std::string, caf::actor, double,
                    uint32_t>::with<dataset_stats>,
    // client -> dataset: labels people gave (record_id, label; confidence unused), kept in the
    // data set's human-labels file (durable before the answer) and applied over every other
    // label, now (a new current version) and by every later ingest. bad_params names a bad
    // entry (nothing is kept then).
    caf::replies_to<human_label_atom, std::vector<pseudo_label_item>>::with<dataset_stats>,
    // client -> dataset: the review queue: up to n unlabelled records of the current version
    // the model `server` is least sure of (active learning), asked like pseudo_label.
    caf::replies_to<review_atom, std::string, caf::actor,
                    uint32_t>::with<std::vector<review_item>>>;

} // namespace llmos
