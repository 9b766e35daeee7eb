// Labels from a model (or from people), stored as a version of their own: the records of the
// current version, with the model's labels at or above the threshold written into unlabelled
// records (gold and labelling-function labels always win), stored as a new version whose manifest
// says what was done (statistics.pseudo_labels: the model, the threshold, what was applied and
// refused, the labels given, and how often the model agreed with labels records already had) and
// whose lineage names the version it came from. The new version becomes the data set's current one,
// so re-ingesting is not needed and a restarted node serves it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/annotate/pseudo_label.hpp"
#include "dataset/pipeline_runner.hpp"

namespace llmos::dataset {

struct model_labels {
  std::string root;  ///< the store's folder
  version_info base; ///< the version labelled
  std::string model; ///< who labelled (a server's name), for the manifest
  double min_confidence = 0.9;
  std::vector<pseudo_label> labels; ///< the model's labels of unlabelled records
  std::vector<pseudo_label> checks; ///< its labels of records that had one (agreement)
};

/// Applies and stores; the result is that of an ingest (the new version, its counts).
/// Nothing applied: no new version, base is the result. Errors name the store or shard.
caf::expected<pipeline_result> store_model_labels(const model_labels& in);

/// People's labels (record id -> label) over every other label of `base`, stored the same way
/// (statistics.human_labels: labels, applied, unchanged, unknown).
caf::expected<pipeline_result> store_human_labels(const std::string& root, const version_info& base,
                                                  const std::map<std::string, std::string>& labels);

} // namespace llmos::dataset
