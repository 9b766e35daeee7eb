// Labels people gave, kept apart from every version: <root>/<dataset>/human-labels.jsonl, one
// {"id", "label"} per line, the latest label of a record winning. People outrank rules and
// models: every ingest applies them after the labelling functions (ids are stable: source and
// position), and a label given now is applied to the current version at once. The file is
// rewritten whole and atomically on each change (temporary, fsync, rename), so an acknowledged
// label survives kill -9 and power loss, and a crash leaves the previous file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/record.hpp"

namespace llmos::dataset {

struct human_label {
  std::string record_id;
  std::string label;
};

/// Limits on what people can add (outside input).
inline constexpr std::size_t max_human_labels = 1000000; ///< records labelled per data set
inline constexpr std::size_t max_label_bytes = 256;
inline constexpr std::size_t max_id_bytes = 1024;

/// The labels file of `dataset` under the store root.
std::string human_labels_file(const std::string& root, const std::string& dataset);

/// Reads the labels (record id -> label); a missing file is none. A malformed line is an
/// io_failed error naming the file and line (the file is never rewritten over it).
caf::expected<std::map<std::string, std::string>> read_human_labels(const std::string& file);

/// Checks `labels` (non-empty id and label, valid sizes), adds them to the file (a later label
/// of the same record replaces the earlier one) and answers the whole set. bad_params names the
/// offending entry; nothing is written then.
caf::expected<std::map<std::string, std::string>>
add_human_labels(const std::string& file, const std::vector<human_label>& labels);

/// What applying human labels did.
struct human_label_counts {
  uint64_t applied = 0;   ///< records whose label is now a person's
  uint64_t unchanged = 0; ///< the record already had that label
  uint64_t unknown = 0;   ///< labels of ids this version does not have
};

/// Sets the label of every record with a human label, marking meta["label_source"] = "human".
human_label_counts apply_human_labels(std::vector<record>& records,
                                      const std::map<std::string, std::string>& labels);

} // namespace llmos::dataset
