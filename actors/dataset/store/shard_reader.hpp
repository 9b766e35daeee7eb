// Reading a shard back: the file is read once, its xxh3-64 checked against the manifest, and the
// msgpack unpacked with strings and bins referencing the file's bytes in place (zero-copy), so
// the rows are views into one buffer the reader owns. Every malformed byte is an io_failed error
// naming the shard (and record and field), never a crash.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/store/shard_format.hpp"

namespace llmos::dataset {

/// One shard file, checked and unpacked; rows are views into its bytes.
class shard_reader {
public:
  /// Reads `path`; when `expected_xxh3_64` is not empty a checksum mismatch is an io_failed
  /// error naming the shard (a torn or corrupted file).
  static caf::expected<shard_reader> open(const std::string& path,
                                          std::string_view expected_xxh3_64 = {});

  /// Parses shard bytes already in memory; `name` is used in error messages.
  static caf::expected<shard_reader> parse(std::string bytes, std::string name);

  /// Number of records in the shard.
  std::size_t size() const { return rows_.size(); }

  /// The stored rows, views valid while this reader (or a copy of it) lives.
  const std::vector<shard_row_view>& rows() const { return rows_; }

  /// Owning copies of every record, in shard order.
  std::vector<record> records() const;

  /// The shard's name (its path) as used in error messages.
  const std::string& name() const { return name_; }

private:
  std::string name_;
  // Shared so that copies of a reader keep the views valid without copying the bytes.
  std::shared_ptr<const std::string> bytes_;
  std::vector<shard_row_view> rows_;
};

} // namespace llmos::dataset
