// Runs a pipeline file end to end: read every source, clean, annotate, split, augment the
// training split, train the tokenizer on the training split, and store a new version; or, for an
// incremental pipeline with a current version, the same over what is new, extending that version
// (incremental_ingest.hpp). The
// quarantine of a run is written beside the version under a temporary name and renamed when the
// run completes, so a run killed half-way leaves the previous version and its quarantine intact.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "dataset/pipeline_spec.hpp"
#include "dataset/store/dataset_store.hpp"

namespace llmos::dataset {

/// Progress of a run: stage ("read", "clean", ...), work done and total (0 = unknown).
using progress_fn = std::function<void(const std::string& stage, uint64_t done, uint64_t total,
                                       const std::string& message)>;

/// What a run produced (the counts of an incremental run are those of its new records; the
/// report's "incremental" says what it extended and what it skipped).
struct pipeline_result {
  version_info version;
  uint64_t records = 0; ///< after cleaning, before augmentation
  uint64_t train = 0;
  uint64_t validation = 0;
  uint64_t test = 0;
  uint64_t augmented = 0;
  std::map<std::string, uint64_t> removed; ///< rule (or reader) -> quarantined records
  std::map<std::string, uint64_t> labels;
  nlohmann::json report; ///< everything: sources, rules, annotation, augmentation, tokenizer
};

/// The file naming the version the last completed run of `dataset` produced.
std::string current_version_file(const std::string& root, const std::string& dataset);

/// Runs `spec`; errors name the source, rule or file that failed.
caf::expected<pipeline_result> run_pipeline(const pipeline_spec& spec, const progress_fn& progress);

} // namespace llmos::dataset
