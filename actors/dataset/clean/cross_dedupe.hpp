// Dedupe across versions: an incremental ingest (incremental_ingest.hpp) cleans only the records
// that are new since the stored version, and a new record that repeats one stored before must go
// to the quarantine like a duplicate within one run would. The stored records are known by their
// keys (stored_keys.hpp: exact hashes and LSH band keys kept beside the shards), so nothing stored
// is rehashed: only the new records are, and the few stored texts that share a key with one of
// them are read to confirm it. Stored records are never touched; duplicates among the new records
// are left to the rules themselves (exact_dedupe, near_dedupe), which run first.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/rule_stats.hpp"
#include "dataset/clean/stored_keys.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// The texts of the stored records at these indices of the stored keys.
using stored_texts_fn = std::function<caf::expected<std::unordered_map<uint32_t, std::string>>(
    const std::vector<uint32_t>& indices)>;

/// Removes (and quarantines under "exact_dedupe") every record of `fresh` whose dedupe key is
/// that of a stored record.
caf::expected<rule_stats> exact_dedupe_against(std::vector<record>& fresh,
                                               const stored_keys& stored,
                                               const stored_texts_fn& texts, quarantine& q);

/// Removes (and quarantines under "near_dedupe") every record of `fresh` that shares an LSH band
/// with a stored record and whose similarity to it reaches the options' threshold (estimated
/// or exact, as options.verify says). The stored band keys must have been made with the same
/// options (bad_config otherwise).
caf::expected<rule_stats> near_dedupe_against(std::vector<record>& fresh, const stored_keys& stored,
                                              const stored_texts_fn& texts, quarantine& q,
                                              const near_dedupe_options& options);

} // namespace llmos::dataset
