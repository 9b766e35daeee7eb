// The bookkeeping files of one model folder <root>/<name>/ besides its version folders:
// aliases.json (alias -> version), next_version (the lowest number never used, so removed
// numbers are not handed out again), and the hidden temporaries that writes go through.
// Temporaries are named ".incoming-<pid>-<seq>..." (being written) or ".removing-<pid>-<seq>..."
// (being deleted); the pid lets open() tell a crashed writer's leftovers from a live one's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::registry {

/// The file name of a model's alias map.
inline constexpr const char* aliases_file_name = "aliases.json";
/// The file name of a model's version counter.
inline constexpr const char* next_version_file_name = "next_version";
/// The name prefix of temporaries being written.
inline constexpr const char* incoming_prefix = ".incoming-";
/// The name prefix of version folders being deleted.
inline constexpr const char* removing_prefix = ".removing-";

/// A fresh temporary path in `model_dir`: "<prefix><pid>-<seq><suffix>", unique per process.
std::filesystem::path temporary_path(const std::filesystem::path& model_dir,
                                     const std::string& prefix, const std::string& suffix = "");

/// Removes the temporaries in `model_dir` whose process is gone (or is this one).
caf::expected<void> sweep_temporaries(const std::filesystem::path& model_dir);

/// The version numbers of the complete version folders in `model_dir`, ascending.
caf::expected<std::vector<uint32_t>> list_version_numbers(const std::filesystem::path& model_dir);

/// The alias map of the model (empty when it has no aliases.json); bad_config names a corrupt one.
caf::expected<std::map<std::string, uint32_t>> read_aliases(const std::filesystem::path& model_dir);

/// Replaces the whole aliases.json atomically.
caf::expected<void> write_aliases(const std::filesystem::path& model_dir,
                                  const std::map<std::string, uint32_t>& aliases);

/// The stored counter (0 when there is no next_version yet); bad_config names a corrupt one.
caf::expected<uint64_t> read_next_version(const std::filesystem::path& model_dir);

/// Replaces next_version atomically.
caf::expected<void> write_next_version(const std::filesystem::path& model_dir, uint64_t next);

} // namespace llmos::registry
