// The files of one version folder, shared by dataset_store's whole writes and its extensions of a
// version (incremental ingest): names, the folder's preparation, shards written atomically, the
// tokenizer file, and the manifest's split counts. Internal to the store.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "dataset/record.hpp"
#include "dataset/split/split.hpp"
#include "dataset/store/dataset_store.hpp"
#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset::version_files {

namespace fs = std::filesystem;

constexpr const char* manifest_name = "manifest.json";
constexpr const char* tokenizer_name = "tokenizer.bin";
constexpr const char* format_name = "llmos-dataset/1";

/// Names become path components: separators and leading dots are refused.
caf::expected<void> check_dataset_name(const std::string& name);

/// 32 lowercase hex digits.
bool is_version_name(const std::string& name);

/// "<part>-<index, 5 digits>.msgpack".
std::string shard_file_name(split_part part, std::size_t index);

caf::expected<split_part> part_from_string(const std::string& s);

/// An empty version folder (a crashed write's leftovers removed), its parents synced.
caf::expected<void> prepare_version_dir(const fs::path& dir);

/// Records and labels per split, as the manifest's "splits".
nlohmann::json split_counts(const std::vector<record>& records,
                            const std::vector<split_part>& assignment);

/// bad_params for an assignment that is not train, validation or test.
caf::error check_assignment(const std::vector<split_part>& assignment);

/// A shard's manifest entry.
nlohmann::json shard_json(const shard_info& s);

/// The tokenizer's file and its manifest entry (null without one).
caf::expected<nlohmann::json> write_tokenizer(const fs::path& dir, const tokenizer* tok,
                                              const std::string& tok_bytes);

/// The bytes of `path`, whose xxh3-64 must be `expected` (the manifest's); a mismatch is an
/// io_failed error naming `what` (e.g. "tokenizer ") and the path.
caf::expected<std::string> read_checked(const fs::path& path, const std::string& expected,
                                        const std::string& what);

/// `files` (name -> bytes) written atomically into `dir`; their manifest entries.
caf::expected<nlohmann::json> write_side_files(const fs::path& dir,
                                               const std::map<std::string, std::string>& files);

/// Every split's records in shards of `shard_records` into `dir` (added to info.shards), the
/// shards of each split numbered from `first[split]`; their manifest entries.
caf::expected<nlohmann::json> write_shards(const fs::path& dir, const std::vector<record>& records,
                                           const std::vector<split_part>& assignment,
                                           const tokenizer* tok, std::size_t shard_records,
                                           version_info& info,
                                           std::array<std::size_t, 3> first = {0, 0, 0});

} // namespace llmos::dataset::version_files
