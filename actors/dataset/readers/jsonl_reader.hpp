// The jsonl source kind: JSON Lines, one JSON object per line. Options: text_field (default
// "text") and label_field (optional; unlabelled without it). The text must be a string; a label
// may be a string or an integer (many exports write class ids as numbers), which becomes its
// decimal spelling. The object's other fields go to record.meta (strings as they are, anything
// else as compact JSON). A malformed line, a missing field, a value of the wrong type or invalid
// UTF-8 goes to the quarantine under "jsonl_reader" with path:line, and the read goes on.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a jsonl source; returns the number of records emitted.
caf::expected<uint64_t> read_jsonl(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
