// The names the model registry accepts and how it spells versions. Model and alias names become
// path components and JSON keys, so they are restricted to [A-Za-z0-9][A-Za-z0-9._-]{0,63}: no
// separators, no leading dot (which also keeps them apart from the store's hidden temporaries).
// A version is referred to as "3" or "v3" and lives in a folder "v3".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::registry {

/// The reference that always means the highest existing version.
inline constexpr const char* latest_ref = "latest";

/// Whether `s` is a valid model or alias name by its characters alone.
bool is_valid_name(const std::string& s);

/// bad_params naming the model name and the rule when it is invalid.
caf::expected<void> check_model_name(const std::string& name);

/// bad_params when `alias` is not a valid name, is "latest" or reads as a version number.
caf::expected<void> check_alias_name(const std::string& alias);

/// 'a', 'b', 'c': names quoted for messages.
std::string quoted_names(const std::vector<std::string>& names);

/// The version a reference "3" / "v3" denotes; nullopt when `ref` is not of that form (it may
/// then be an alias), bad_params when it is but is 0 or beyond uint32.
caf::expected<std::optional<uint32_t>> parse_version_ref(const std::string& ref);

/// "v3" for 3: the folder of a version.
std::string version_dir_name(uint32_t version);

/// The version of a folder named exactly as version_dir_name spells it, else nullopt.
std::optional<uint32_t> parse_version_dir_name(const std::string& name);

} // namespace llmos::registry
