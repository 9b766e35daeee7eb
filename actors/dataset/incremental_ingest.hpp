// Incremental ingest (`incremental: true` in a pipeline file): once a data set has a current
// version made by the same pipeline text, an ingest reads only what is new and extends that
// version instead of rebuilding it:
// - a source with a cursor column (sqlite, postgres: cursor_column) reads only the rows past the
//   cursor value its last read reached, kept in the version's manifest (sources[].cursor);
// - from every source, records whose id is stored already are skipped (files and HTTP bodies
//   are read whole, and an unchanged one adds nothing);
// - the new records are cleaned, then checked against the stored ones by the pipeline's dedupe
//   rules (cross_dedupe.hpp) through the keys kept beside the shards (stored_keys.hpp; one keys
//   file per ingest, so no stored text is rehashed), annotated, split with the pipeline's ratios,
//   augmented, and tokenized with the stored tokenizer (a tokenizer is trained once, by the first
//   full run);
// - the new version links the stored shards and writes only the new records
//   (dataset_store::extend); with nothing new, the current version stays current.
// A changed pipeline file, or no current version, makes a full run (the report says why).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/stored_keys.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/record.hpp"
#include "dataset/store/dataset_store.hpp"
#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

/// The version an incremental run extends, with what the run needs of it.
struct stored_version {
  std::string root; ///< the store
  version_info info;
  stored_keys keys;                           ///< of its records that are no augmented copy
  std::size_t key_files = 0;                  ///< its keys files (the next one is numbered so)
  std::map<std::string, std::string> cursors; ///< source name -> the cursor value it reached
  std::unique_ptr<tokenizer> tok;             ///< null when the version has none
};

/// The version an incremental run of `spec` extends; nullopt when a full run is due, with the
/// reason in `why` (not incremental, no current version, the pipeline file changed). Its keys
/// come from its keys files, or, for a version without them (a relabelled one), from its
/// shards under `near` (the pipeline's near_dedupe options, if any).
caf::expected<std::optional<stored_version>>
version_to_extend(const pipeline_spec& spec, const std::optional<near_dedupe_options>& near,
                  std::string& why);

/// The name of the keys file a run adds ("keys-00000.bin" for a full run).
std::string keys_file_name(std::size_t index);

/// The texts of the stored records at these indices of stored.keys, read from its shards.
caf::expected<std::unordered_map<uint32_t, std::string>>
stored_texts(const stored_version& stored, const std::vector<uint32_t>& indices);

/// Removes from `fresh` the records whose id is stored already; returns how many.
uint64_t drop_stored(std::vector<record>& fresh, const stored_version& stored);

} // namespace llmos::dataset
