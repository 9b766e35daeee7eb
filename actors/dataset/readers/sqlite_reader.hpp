// The sqlite source kind: the rows of one read-only query against an SQLite database file.
// Options: query (required unless table is given: one SELECT statement; anything that would
// write is refused), table (shorthand for "SELECT * FROM <table>"), text_column (default
// "text"), label_column (optional), id_column (optional: record ids become "<source>:<id>";
// otherwise "<source>:row<N>"), cursor_column (optional, needs id_column: incremental reads,
// see source_cursor and sql_rows.hpp). Other columns go to record.meta; numbers are written as
// SQLite renders them. The database is opened read-only. A row whose text is NULL or not UTF-8 goes
// to the quarantine under "sqlite_reader" with its row number, and the read goes on. Built when
// CMake finds SQLite 3 (Debian libsqlite3-dev); otherwise the kind says so.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a sqlite source; returns the number of records emitted.
caf::expected<uint64_t> read_sqlite(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
