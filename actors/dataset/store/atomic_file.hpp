// Crash-safe file writing for data set versions: a file is written under a temporary name,
// flushed to disk (fsync), renamed over its final name and the directory fsynced, so after a
// crash a path either holds the complete new bytes or does not exist. The temporary name carries
// its writer ("<name>.~HOST~PID~N.tmp"), so that two writers of one version (two processes on a
// shared store, content-addressed versions) never write into each other's file, and a store
// that opens removes only what a dead writer of its own host left (abandoned_temporary).
#pragma once

#include <filesystem>
#include <string_view>

#include <caf/expected.hpp>

#include "llmos/runtime/atomic_file.hpp"

namespace llmos::dataset {

/// The suffix of files being written.
inline constexpr std::string_view tmp_suffix = ".tmp";

/// Writes `bytes` to `path` atomically (a temporary of this writer, fsync, rename, fsync
/// directory); io_failed names the path and the failing step.
caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes);

/// The temporary name this process writes `path` under (unique per call).
std::filesystem::path temporary_for(const std::filesystem::path& path);

/// True for a temporary nobody is writing any more: one of this host whose process is gone, or
/// one without an owner (written by llmos before owners were recorded). Another host's
/// temporaries are never judged abandoned: their writer may be alive.
bool abandoned_temporary(const std::filesystem::path& file);

// The primitives themselves live in the runtime (the registry uses them too).
using llmos::fsync_directory;
using llmos::read_whole_file;

} // namespace llmos::dataset
