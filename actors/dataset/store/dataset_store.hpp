// The on-disk home of data set versions: <root>/<dataset>/<version>/ holds the shards
// (<part>-00000.msgpack, ...), the tokenizer (tokenizer.bin) and manifest.json, which is written
// last. Every file is written atomically (see atomic_file.hpp), so a version folder without a
// manifest is an interrupted write: readers ignore it, opening the store removes leftover .tmp
// files, and writing the same version again replaces it. One writer per root at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "dataset/record.hpp"
#include "dataset/split/split.hpp"
#include "dataset/store/shard_reader.hpp"
#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

/// How versions are written.
struct store_options {
  uint64_t shard_records = 10000; ///< records per shard file (> 0)
};

/// What a version records besides its data (the JSON values are the caller's).
struct version_metadata {
  std::string pipeline_spec; ///< the pipeline file's text: part of the version hash
  nlohmann::json sources = nlohmann::json::object();
  nlohmann::json rules = nlohmann::json::object();
  nlohmann::json statistics = nlohmann::json::object();
  nlohmann::json lineage = nlohmann::json::object();
  /// The caller's files kept beside the shards (name -> bytes): written atomically before the
  /// manifest, which lists them under "side_files" with size and xxh3-64. A version made by
  /// extend keeps (links) its parent's and adds these. Names as data set names.
  std::map<std::string, std::string> side_files;
};

/// One shard as the manifest lists it.
struct shard_info {
  std::string file; ///< name inside the version folder, e.g. "train-00000.msgpack"
  split_part part = split_part::train;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::string xxh3_64; ///< checksum of the file, verified on read
};

/// A complete version as read from (or just written to) its manifest.
struct version_info {
  std::string dataset;
  std::string version; ///< 32 hex digits (xxh3-128 of the content)
  std::string path;    ///< the version folder
  std::vector<shard_info> shards;
  nlohmann::json manifest; ///< the whole manifest.json
};

/// Writes and reads the versions under one root folder.
class dataset_store {
public:
  /// Opens (creating) `root` and removes .tmp files left in version folders by a crashed write.
  static caf::expected<dataset_store> open(std::string root, store_options opts = {});

  /// Writes a version of `dataset` (records aligned with `assignment`; `tok` may be null, else
  /// it tokenizes every text and is stored). Writing a version that already exists completely
  /// returns the existing one (same hash, same data; its manifest is left as it was).
  caf::expected<version_info> write(const std::string& dataset, const std::vector<record>& records,
                                    const std::vector<split_part>& assignment,
                                    const version_metadata& meta, const tokenizer* tok) const;

  /// A new version of parent.dataset holding `parent`'s records and `records` (aligned with
  /// `assignment`, tokenized with `tok`: the parent's tokenizer, whose file is kept): the
  /// parent's shard files are linked into the new folder, not rewritten, and only `records` are
  /// written, in shards numbered after the parent's. Its id hashes the parent's id with the new
  /// content; its lineage names the parent and what was reused (incremental ingest).
  caf::expected<version_info> extend(const version_info& parent, const std::vector<record>& records,
                                     const std::vector<split_part>& assignment,
                                     const version_metadata& meta, const tokenizer* tok) const;

  /// The complete versions of `dataset` (see list_versions).
  caf::expected<std::vector<std::string>> versions(const std::string& dataset) const;

  /// Reads a version's manifest; io_failed names the manifest when it is missing or malformed.
  caf::expected<version_info> read(const std::string& dataset, const std::string& version) const;

  /// Opens one shard of a version, verifying its checksum against the manifest.
  caf::expected<shard_reader> open_shard(const version_info& info, const std::string& file) const;

  /// The bytes of a version's side file, checked against the manifest; nullopt when the
  /// version has no such file.
  caf::expected<std::optional<std::string>> read_side_file(const version_info& info,
                                                           const std::string& name) const;

  /// The tokenizer stored with a version (nullptr when it was written without one).
  caf::expected<std::unique_ptr<tokenizer>> load_tokenizer(const version_info& info) const;

  /// The root folder.
  const std::string& root() const { return root_; }

private:
  std::string root_;
  store_options opts_;
};

/// The versions of `dataset` under `root` that have a manifest, sorted; a missing dataset
/// folder gives an empty list, an unreadable one io_failed.
caf::expected<std::vector<std::string>> list_versions(const std::string& root,
                                                      const std::string& dataset);

} // namespace llmos::dataset
