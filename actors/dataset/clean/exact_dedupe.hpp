// The exact_dedupe rule: records whose dedupe keys (NFKC, case folded, punctuation and
// whitespace removed) are equal are one document; the first one is kept and every later copy
// is quarantined with "duplicate of <id of first>". Keys are compared by their 64-bit xxh3
// hash, and a hash hit is confirmed on the keys themselves so a collision never drops a record.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "dataset/clean/rule_stats.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// xxh3 of dedupe_key(text): what exact_dedupe compares.
uint64_t dedupe_hash(std::string_view text);

/// The rule: removes later exact duplicates (order kept) and quarantines them.
rule_stats exact_dedupe(std::vector<record>& records, quarantine& q);

} // namespace llmos::dataset
