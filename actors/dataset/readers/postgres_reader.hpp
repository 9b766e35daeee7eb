// The postgres source kind: the rows of one query against a PostgreSQL server, through libpq.
// The path is a libpq connection string ("host=127.0.0.1 port=5432 dbname=shop user=reader") or
// URI, without a password: the pipeline file's text is kept in every version's manifest, so a
// password written there is refused. The password comes from the option password_file (a file
// holding it, read at each ingest) or from libpq's own environment (PGPASSWORD, PGPASSFILE,
// ~/.pgpass); it is never logged or stored. Options as the sqlite kind (query or table,
// text_column, label_column, id_column, cursor_column; see sql_rows.hpp) and connect_timeout
// (seconds, default 10). The query runs in a READ ONLY transaction (a write is refused by the
// server) through a server-side cursor fetched 2000 rows at a time, so a large table is never
// held in memory whole. Values arrive as PostgreSQL's text form ("t"/"f", "2026-12-05 10:00:00").
// Built when CMake finds libpq (Debian libpq-dev); otherwise the kind says so.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a postgres source; returns the number of records emitted.
caf::expected<uint64_t> read_postgres(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
