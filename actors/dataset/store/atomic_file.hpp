// Crash-safe file writing for data set versions: a file is written as "<name>.tmp", flushed to
// disk (fsync), renamed over its final name and the directory fsynced, so after a crash a path
// either holds the complete new bytes or does not exist; at worst a ".tmp" file is left behind,
// which the store removes when it is opened.
#pragma once

#include <filesystem>
#include <string_view>

#include <caf/expected.hpp>

namespace llmos::data {

/// The suffix of files being written.
inline constexpr std::string_view tmp_suffix = ".tmp";

/// Writes `bytes` to `path` atomically (tmp, fsync, rename, fsync directory); io_failed names
/// the path and the failing step.
caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes);

/// fsync of a directory, so that entries created or renamed in it survive a crash.
caf::expected<void> fsync_directory(const std::filesystem::path& dir);

/// The whole file at `path`; io_failed names it when it cannot be read.
caf::expected<std::string> read_whole_file(const std::filesystem::path& path);

} // namespace llmos::data
