// The quarantine: every record a reader or rule refuses is written here, as one JSON object per
// line with the rule, the reason, the source location and the record's text (or a prefix of it),
// so nothing disappears silently. Lines are appended and flushed as they come.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/record.hpp"

namespace llmos::dataset {

/// One refused record.
struct quarantine_entry {
  std::string rule;   ///< "csv_reader", "exact_duplicate", "near_duplicate", "min_length", ...
  std::string reason; ///< what was wrong, e.g. "duplicate of spam-1/0012.txt"
  source_location origin;
  std::string text; ///< the record's text, cut to 2000 bytes at a UTF-8 boundary
};

class quarantine {
public:
  /// In memory only (tests, dry runs).
  quarantine() = default;

  /// Appends to `path` (created if needed); io_failed error names the path.
  static caf::expected<quarantine> open(const std::string& path);

  /// Records one refusal (and writes it when a file is open).
  void add(quarantine_entry entry);

  /// Convenience: refuse `r` under `rule` with `reason`.
  void add(const std::string& rule, const std::string& reason, const record& r);

  /// Refusals per rule since this object was made.
  const std::map<std::string, uint64_t>& counts() const { return counts_; }

  /// The first few refusals per rule (examples for statistics).
  const std::map<std::string, std::vector<quarantine_entry>>& examples() const { return examples_; }

  /// Reads a quarantine file back (for listing); error names file and line of a bad entry.
  static caf::expected<std::vector<quarantine_entry>> read(const std::string& path);

private:
  std::string path_;
  std::shared_ptr<std::ofstream> out_;
  std::map<std::string, uint64_t> counts_;
  std::map<std::string, std::vector<quarantine_entry>> examples_;
};

/// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string utf8_prefix(const std::string& text, std::size_t max_bytes);

} // namespace llmos::dataset
