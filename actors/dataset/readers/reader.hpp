// The common interface of the dataset source readers: a declared source (name, kind, path and
// string options, as written in the pipeline file) goes in, records come out one at a time
// through a callback, and whatever cannot be read goes to the quarantine under the rule
// "<kind>_reader" with its location. Every kind takes the option "limit" (or spec.limit): stop
// after that many records, for tests and dry runs. Streaming keeps a large set from being held in
// memory twice; a hard error (missing file, bad option, broken header) ends the read with an error
// that names the source and the path.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// Incremental reading of a source with a cursor column (sqlite, postgres: the option
/// `cursor_column`): only rows whose cursor value is past `after` are read, in cursor order, and
/// the reader leaves the cursor value of the last row it read in `last` (unchanged when it read
/// none). Rows whose cursor is NULL are never past a cursor: they are read by a full read only.
struct source_cursor {
  std::string after; ///< "" reads from the start
  std::string last;
};

/// One source as declared in a pipeline file.
struct source_spec {
  std::string name; ///< the source's name in the pipeline; record ids and origins start with it
  std::string kind; ///< "csv", "tsv", "jsonl", "maildir", "fortunes", "idx", "sqlite",
                    ///< "postgres", "http"
  std::string path; ///< file or folder (idx: the folder relative paths use; sqlite: the
                    ///< database; postgres: the connection string; http: the URL)
  std::map<std::string, std::string> options; ///< kind-specific, see each reader's header
  uint64_t limit = 0; ///< emit at most this many records (0: all); the option "limit" also works
  source_cursor* cursor = nullptr; ///< incremental reading where the kind has a cursor column
};

/// Receives each record a reader produces, in source order.
using emit_fn = std::function<void(record&&)>;

/// Reads `spec` with the reader of its kind; returns how many records were emitted.
caf::expected<uint64_t> read_source(const source_spec& spec, quarantine& q, const emit_fn& emit);

/// The kinds read_source knows, in the order the documentation lists them.
const std::vector<std::string>& reader_kinds();

} // namespace llmos::dataset
