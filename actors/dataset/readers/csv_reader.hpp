// The csv and tsv source kinds: a delimited text file with a header row, parsed by csv_parser.
// Options: text_column (default "text"), label_column (optional; unlabelled without it),
// delimiter (default "," for csv and tab for tsv; "\t" or "tab" spell a tab), quote (default
// '"'; "none" for TSV files that use no quoting), header (default true; false: the first row
// is data and columns are named "0", "1", ... by position, text_column defaulting to "0"),
// skip_rows (default 0: rows to pass over before the header or the data, e.g. a title line).
// Columns other than text and label go to record.meta under their header names. A row with the
// wrong number of fields, a malformed quote or invalid UTF-8 goes to the quarantine under
// "csv_reader"/"tsv_reader" with the line it starts on, and the read goes on.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a csv or tsv source; returns the number of records emitted.
caf::expected<uint64_t> read_csv(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
