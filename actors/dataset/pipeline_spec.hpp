// The pipeline file: one YAML document per data set declaring its sources, cleaning rules,
// labelling functions, split, augmentation, tokenizer and storage. It is parsed and checked
// before any work starts; every refusal names the file, the line and the fix. Paths may use
// ${DATA} (the data set cache, see data_dir.hpp) and are otherwise relative to the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::dataset {

struct source_decl {
  std::string name;
  std::string kind; ///< csv, tsv, jsonl, maildir, fortunes, idx, sqlite, postgres, http
  std::string path;
  std::map<std::string, std::string> options; ///< reader options (paths already resolved)
  uint64_t limit = 0;                         ///< at most this many records (0 = all)
  int line = 0;
};

struct rule_decl {
  std::string rule; ///< email_to_text, normalise, exact_dedupe, near_dedupe, length_filter, ...
  std::map<std::string, std::string> options;
  int line = 0;
};

struct labelling_function_decl {
  std::string name;
  std::string kind; ///< keywords or regex
  std::vector<std::string> patterns;
  std::string label;
  double weight = 1.0;
  bool case_sensitive = false;
  int line = 0;
};

struct split_decl {
  double train = 0.8;
  double validation = 0.1;
  double test = 0.1;
  uint64_t seed = 1;
};

struct augment_decl {
  bool enabled = false;
  double rate = 0.1;   ///< EDA alpha
  uint32_t copies = 1; ///< augmented copies per training record
  uint64_t seed = 1;
  uint32_t image_shift = 0; ///< max pixels of random shift (0 = none)
  bool image_flip = false;
};

struct tokenizer_decl {
  std::string kind = "byte"; ///< byte, char, bpe, unigram
  uint32_t vocab_size = 1000;
  uint32_t max_length = 128; ///< tokens per record in batches (padded / cut)
  double character_coverage = 0.9995;
  std::string from; ///< a saved tokenizer to reuse instead of training one ("" = train)
};

/// Periodic ingest: every `every_s` seconds the dataset actor ingests again, itself or, with a
/// scheduler named, as a task that scheduler queues, orders by priority and counts in capacity.
struct schedule_decl {
  uint64_t every_s = 0;  ///< 0: no schedule
  std::string scheduler; ///< "" : the dataset actor runs the ingest itself
  int32_t priority = 0;
};

struct pipeline_spec {
  std::string file; ///< where it was read from
  std::string text; ///< the file's text (part of the data set version)
  std::string dataset;
  std::string root;       ///< storage root for versions
  std::string quarantine; ///< quarantine file
  std::vector<source_decl> sources;
  std::vector<rule_decl> clean;
  std::vector<labelling_function_decl> labelling_functions;
  bool overwrite_labels = false;
  split_decl split;
  augment_decl augment;
  tokenizer_decl tokenizer;
  uint32_t shard_records = 1000;
  /// Each ingest after the first reads only what is new and extends the current version (see
  /// incremental_ingest.hpp) instead of rebuilding it.
  bool incremental = false;
  schedule_decl schedule;
};

/// Reads and checks a pipeline file; errors (bad_config) read "FILE:LINE: what; fix".
caf::expected<pipeline_spec> load_pipeline(const std::string& path);

/// Same from text; `file` names it in messages and anchors relative paths.
caf::expected<pipeline_spec> parse_pipeline(const std::string& text, const std::string& file);

/// Source kinds and cleaning rules the pipeline knows.
const std::vector<std::string>& known_source_kinds();
const std::vector<std::string>& known_clean_rules();

} // namespace llmos::dataset
