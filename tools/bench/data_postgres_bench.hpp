// The PostgreSQL part of `llmos-bench data`: a throwaway server (tools/testing/local_postgres)
// holds a table of real text, WordNet's glosses (id, gloss, part of speech), 100k rows. Measured:
// rows/s of the postgres source against `psql \copy` of the same query to a file (the raw
// floor), and, after 1% new rows arrive, an incremental ingest of the table (cursor on the id)
// against a full re-ingest of it, both through the whole pipeline (normalise, exact_dedupe,
// near_dedupe, split, byte tokenizer, shards). Skipped, saying why, without PostgreSQL.
#pragma once

#include <cstddef>

#include "bench_stats.hpp"

namespace llmos::bench {

struct postgres_bench_options {
  std::size_t rows = 100000; ///< the table before the new rows arrive
  double new_fraction = 0.01;
  std::size_t repeats = 3; ///< best of, for each timing
};

/// Runs the measurements, prints them and adds postgres_rows_per_s, postgres_copy_rows_per_s,
/// incremental_seconds, full_ingest_seconds and incremental_vs_full_ratio to `sheet`; false
/// when it could not run (the reason is printed).
bool run_postgres_bench(const postgres_bench_options& opts, result_sheet& sheet);

} // namespace llmos::bench
