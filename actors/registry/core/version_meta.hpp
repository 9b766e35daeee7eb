// What the registry records about one model version (meta.json in its folder): who it is, when
// it was made, how well it did, where it came from, and the checksums its files are verified
// against on every read. Also the files themselves as raw bytes; this layer never parses them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace llmos::registry {

/// The three files of a version, as raw bytes.
struct version_files {
  std::string weights;   ///< a LibTorch checkpoint file's bytes (weights.pt)
  std::string tokenizer; ///< the serialized tokenizer (tokenizer.bin)
  std::string spec;      ///< the model spec as YAML text (spec.yaml)
};

/// The record of one published version, stored as meta.json beside its files.
struct version_meta {
  std::string name;
  uint32_t version = 0;
  std::string created;                               ///< ISO-8601 UTC, e.g. 2024-05-01T12:00:00Z
  nlohmann::json metrics = nlohmann::json::object(); ///< e.g. {"accuracy": 0.95}
  /// dataset_version, hyper_parameters{}, parent (number or null), produced_by
  nlohmann::json lineage = nlohmann::json::object();
  uint64_t weights_bytes = 0;
  std::string weights_xxh3;   ///< XXH3-128 of weights.pt, 32 lowercase hex digits
  std::string tokenizer_xxh3; ///< XXH3-128 of tokenizer.bin
  std::string spec_xxh3;      ///< XXH3-128 of spec.yaml
};

/// XXH3-128 of `bytes` as 32 lowercase hex digits (canonical, big-endian byte order).
std::string xxh3_hex(std::string_view bytes);

/// The meta.json document of `meta`.
nlohmann::json to_json(const version_meta& meta);

/// Parses meta.json text read from `file`; bad_config names the file and the faulty field.
caf::expected<version_meta> parse_version_meta(std::string_view text,
                                               const std::filesystem::path& file);

/// The current time as ISO-8601 UTC with seconds, e.g. 2024-05-01T12:00:00Z.
std::string utc_now_iso8601();

} // namespace llmos::registry
