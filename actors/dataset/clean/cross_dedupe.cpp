#include "dataset/clean/cross_dedupe.hpp"

#include <cstdio>
#include <unordered_map>

#include <xxhash.h>

#include "dataset/clean/normalise.hpp"

namespace llmos::dataset {

rule_stats exact_dedupe_against(std::vector<record>& fresh, const std::vector<record>& stored,
                                quarantine& q) {
  rule_stats stats{"exact_dedupe", 0, 0, {}};
  std::unordered_multimap<uint64_t, std::size_t> known; // key hash -> stored index
  known.reserve(stored.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const auto key = dedupe_key(stored[i].text);
    known.emplace(XXH3_64bits(key.data(), key.size()), i);
  }
  std::vector<bool> keep(fresh.size(), true);
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const auto key = dedupe_key(fresh[i].text);
    const auto [from, to] = known.equal_range(XXH3_64bits(key.data(), key.size()));
    for (auto it = from; it != to && keep[i]; ++it)
      // Confirmed on the keys: a 64-bit collision between different documents keeps both.
      if (dedupe_key(stored[it->second].text) == key) {
        keep[i] = false;
        reject(stats, q, fresh[i],
               "duplicate of " + stored[it->second].id + " (stored by an earlier ingest)");
      }
  }
  keep_flagged(fresh, keep);
  return stats;
}

rule_stats near_dedupe_against(std::vector<record>& fresh, const std::vector<record>& stored,
                               quarantine& q, const near_dedupe_options& options) {
  rule_stats stats{"near_dedupe", 0, 0, {}};
  if (fresh.empty() || stored.empty())
    return stats;
  // One candidate search over both sets; only pairs of a stored and a fresh record count.
  std::vector<record> all;
  all.reserve(stored.size() + fresh.size());
  all.insert(all.end(), stored.begin(), stored.end());
  all.insert(all.end(), fresh.begin(), fresh.end());
  const auto signatures = minhash_signatures(all, options);
  std::vector<bool> keep(fresh.size(), true);
  for (const auto& pair : similar_pairs(all, signatures, options)) {
    if (pair.first >= stored.size() || pair.second < stored.size())
      continue;
    const std::size_t i = pair.second - stored.size();
    if (!keep[i])
      continue;
    keep[i] = false;
    char similarity[16];
    std::snprintf(similarity, sizeof similarity, "%.2f", pair.similarity);
    reject(stats, q, fresh[i],
           std::string{"near duplicate (jaccard≈"} + similarity + ") of " + stored[pair.first].id +
               " (stored by an earlier ingest)");
  }
  keep_flagged(fresh, keep);
  return stats;
}

} // namespace llmos::dataset
