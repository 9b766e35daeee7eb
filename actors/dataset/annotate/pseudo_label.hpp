// Pseudo-labelling by a model: the dataset actor asks a model actor for labels of unlabelled
// records (pseudo_label_request), the model answers with one pseudo_label per record it is sure
// enough of, and apply_pseudo_labels writes back only those at or above the threshold, and only
// into records that have no label yet, so gold and labelling-function labels always win. The
// structs are plain and carry their `inspect` so that messages/dataset.hpp can adopt them as the
// wire types of this conversation without change (its owner assigns the type IDs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "dataset/record.hpp"

namespace llmos::dataset {

/// Dataset actor → model actor: label up to `max_records` unlabelled records of `dataset`;
/// the reply is a std::vector<pseudo_label>, only labels with confidence ≥ min_confidence.
struct pseudo_label_request {
  std::string dataset;
  double min_confidence = 0.9;
  uint32_t max_records = 0; ///< 0: no limit
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pseudo_label_request& x) {
  return f(caf::meta::type_name("pseudo_label_request"), x.dataset, x.min_confidence,
           x.max_records);
}

/// Model actor → dataset actor: the label a model gives one record, with its confidence.
struct pseudo_label {
  std::string record_id;
  std::string label;
  double confidence = 0; ///< the model's probability of `label`, in [0, 1]
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, pseudo_label& x) {
  return f(caf::meta::type_name("pseudo_label"), x.record_id, x.label, x.confidence);
}

/// What apply_pseudo_labels did with each pseudo-label.
struct pseudo_label_counts {
  uint64_t applied = 0;          ///< written into an unlabelled record
  uint64_t below_threshold = 0;  ///< confidence < min_confidence (or not a number)
  uint64_t already_labelled = 0; ///< the record had a label (gold, LF or an earlier pseudo-label)
  uint64_t unknown_record = 0;   ///< no record with that id
  uint64_t empty_label = 0;      ///< the model sent an empty label
};

/// Applies the pseudo-labels with confidence ≥ min_confidence to unlabelled records, marking
/// meta["label_source"] = "model" and meta["label_confidence"]; never touches a labelled record.
pseudo_label_counts apply_pseudo_labels(std::vector<record>& records,
                                        const std::vector<pseudo_label>& labels,
                                        double min_confidence);

} // namespace llmos::dataset
