// Dedupe across versions: an incremental ingest (pipeline_runner) cleans only the records that
// are new since the stored version, and a new record that repeats one stored before must go to
// the quarantine like a duplicate within one run would. Stored records are never touched;
// duplicates among the new records are left to the rules themselves (exact_dedupe,
// near_dedupe), which run first.
#pragma once

#include <vector>

#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/rule_stats.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// Removes (and quarantines under "exact_dedupe") every record of `fresh` whose dedupe key is
/// that of a record of `stored`.
rule_stats exact_dedupe_against(std::vector<record>& fresh, const std::vector<record>& stored,
                                quarantine& q);

/// Removes (and quarantines under "near_dedupe") every record of `fresh` that MinHash LSH finds
/// similar to a record of `stored` at the options' threshold.
rule_stats near_dedupe_against(std::vector<record>& fresh, const std::vector<record>& stored,
                               quarantine& q, const near_dedupe_options& options);

} // namespace llmos::dataset
