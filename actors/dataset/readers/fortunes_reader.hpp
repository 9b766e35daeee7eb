// The fortunes source kind: the text files of the fortune program, where a line holding only
// "%" separates entries. path is one such file or a folder of them (then every file without an
// extension is read, in sorted order, which skips the *.dat indexes and *.u8 links). Options:
// label (default: the file's name, i.e. its category) and strip_ansi (default false; true drops
// terminal colour codes, which fortunes-zh uses). Blank entries are skipped. An entry with
// invalid UTF-8 goes to the quarantine under "fortunes_reader" with path:line of its first line.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a fortunes source; returns the number of records emitted.
caf::expected<uint64_t> read_fortunes(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
