// Crash-safe file primitives (data set versions, the model registry): a file is only ever made
// visible under its final name by rename(2) after its bytes and the rename's directory have been
// fsynced, so after a kill -9 or a power loss a path holds either the complete old bytes or the
// complete new ones.
// Temporary names are chosen by the caller, so that the store can recognise and sweep them.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace llmos {

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it; io_failed names the path.
caf::expected<void> write_file_synced(const std::filesystem::path& path, std::string_view bytes);

/// Writes `bytes` to `tmp`, fsyncs it, renames it over `path` and fsyncs the directory, so
/// `path` switches from the old to the new content in one step. Both must be in one directory.
caf::expected<void> replace_file_atomically(const std::filesystem::path& path,
                                            const std::filesystem::path& tmp,
                                            std::string_view bytes);

/// Has `write(tmp)` make the file under a temporary name beside `path` (its folder created), then
/// renames it over `path`, so readers see the old file or the whole new one: for writers that
/// need a file name (LibTorch's save) or stream. The temporary is removed when `write` fails or
/// throws; `write`'s error is returned as it is, other failures are io_failed naming the path.
caf::expected<void> replace_file_by(const std::filesystem::path& path,
                                    const std::function<caf::error(const std::string& tmp)>& write);

/// Renames `from` to `to`, failing (io_failed) instead of replacing when `to` already exists.
caf::expected<void> rename_no_replace(const std::filesystem::path& from,
                                      const std::filesystem::path& to);

/// fsync of a directory, so that entries created or renamed in it survive a crash.
caf::expected<void> fsync_directory(const std::filesystem::path& dir);

/// The whole file at `path`; io_failed names it when it cannot be read.
caf::expected<std::string> read_whole_file(const std::filesystem::path& path);

} // namespace llmos
