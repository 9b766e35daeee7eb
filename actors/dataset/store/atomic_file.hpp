// Crash-safe file writing for data set versions: a file is written as "<name>.tmp", flushed to
// disk (fsync), renamed over its final name and the directory fsynced, so after a crash a path
// either holds the complete new bytes or does not exist; at worst a ".tmp" file is left behind,
// which the store removes when it is opened.
#pragma once

#include <filesystem>
#include <string_view>

#include <caf/expected.hpp>

#include "llmos/runtime/atomic_file.hpp"

namespace llmos::data {

/// The suffix of files being written.
inline constexpr std::string_view tmp_suffix = ".tmp";

/// Writes `bytes` to `path` atomically (`path` + tmp_suffix, fsync, rename, fsync directory);
/// io_failed names the path and the failing step.
caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes);

// The primitives themselves live in the runtime (the registry uses them too).
using llmos::fsync_directory;
using llmos::read_whole_file;

} // namespace llmos::data
