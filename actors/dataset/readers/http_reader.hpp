// The http source kind: JSON Lines, CSV or TSV fetched from a URL (`path: http://...` or
// `https://...`), then read by that kind's reader with the remaining options (text_field,
// text_column, header, ...). Options of the fetch: format (jsonl, csv or tsv; default from the
// URL's extension), timeout_ms (each attempt's connect and read timeout, default 30000),
// retries (default 3: connection failures, 429 and 5xx are tried again after 0.5, 1, 2 s ...;
// other statuses are not), max_bytes (default 256 MiB: a longer body is refused while it
// streams, never held). The body is kept in the state folder's http cache with its ETag and
// Last-Modified; the next fetch sends If-None-Match / If-Modified-Since and a 304 reads the
// cached body instead of downloading it again.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Fetches and reads an http source; returns the number of records emitted.
caf::expected<uint64_t> read_http(const source_spec& spec, quarantine& q, const emit_fn& emit);

/// Where read_http keeps fetched bodies (state_dir()/http-cache unless overridden for tests).
void set_http_cache_dir(std::string dir);

} // namespace llmos::dataset
