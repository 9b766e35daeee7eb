#include "dataset/clean/exact_dedupe.hpp"

#include <string>
#include <unordered_map>

#include <xxhash.h>

#include "dataset/clean/normalise.hpp"

namespace llmos::dataset {

uint64_t dedupe_hash(std::string_view text) {
  const auto key = dedupe_key(text);
  return XXH3_64bits(key.data(), key.size());
}

rule_stats exact_dedupe(std::vector<record>& records, quarantine& q) {
  rule_stats stats{"exact_dedupe", 0, 0, {}};
  std::unordered_map<uint64_t, std::size_t> first; // key hash -> index of the first record
  first.reserve(records.size());
  std::vector<bool> keep(records.size(), true);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto key = dedupe_key(records[i].text);
    const auto [it, inserted] = first.emplace(XXH3_64bits(key.data(), key.size()), i);
    if (inserted)
      continue;
    // Recomputing the first key only on a hit keeps memory at one hash per record.
    if (dedupe_key(records[it->second].text) != key)
      continue; // a 64-bit collision between different documents: both stay
    keep[i] = false;
    reject(stats, q, records[i], "duplicate of " + records[it->second].id);
  }
  keep_flagged(records, keep);
  return stats;
}

} // namespace llmos::dataset
