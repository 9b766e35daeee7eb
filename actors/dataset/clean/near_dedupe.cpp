#include "dataset/clean/near_dedupe.hpp"

#include <cstdio>

#include "dataset/clean/normalise.hpp"
#include "dataset/clean/union_find.hpp"

namespace llmos::data {

std::string near_dedupe_key(std::string_view text, shingle_unit unit) {
  return dedupe_key(text, unit == shingle_unit::word);
}

std::vector<uint32_t> minhash_signatures(const std::vector<record>& records,
                                         const near_dedupe_options& options) {
  const minhasher hasher{options.lsh.bands * options.lsh.rows, options.seed};
  const std::size_t width = hasher.num_perm();
  std::vector<uint32_t> signatures(records.size() * width);
  std::vector<uint64_t> shingles;
  for (std::size_t i = 0; i < records.size(); ++i) {
    shingle_hashes(near_dedupe_key(records[i].text, options.shingles.unit), options.shingles,
                   shingles);
    hasher.signature(shingles, signatures.data() + i * width);
  }
  return signatures;
}

std::vector<similar_pair> similar_pairs(std::span<const uint32_t> signatures, std::size_t count,
                                        const near_dedupe_options& options) {
  const std::size_t width = options.lsh.bands * options.lsh.rows;
  std::vector<similar_pair> out;
  if (width == 0)
    return out;
  const lsh_index index{signatures, count, options.lsh};
  for (const auto& [a, b] : index.candidate_pairs()) {
    const double est = estimate_jaccard(signatures.subspan(a * width, width),
                                        signatures.subspan(b * width, width));
    if (est >= options.threshold)
      out.push_back(similar_pair{a, b, est});
  }
  return out;
}

rule_stats near_dedupe(std::vector<record>& records, quarantine& q,
                       const near_dedupe_options& options) {
  rule_stats stats{"near_dedupe", 0, 0, {}};
  const std::size_t width = options.lsh.bands * options.lsh.rows;
  if (records.empty() || width == 0)
    return stats;
  const auto signatures = minhash_signatures(records, options);
  union_find clusters{records.size()};
  for (const auto& p : similar_pairs(signatures, records.size(), options))
    clusters.unite(p.first, p.second);
  std::vector<bool> keep(records.size(), true);
  const std::span<const uint32_t> sigs{signatures};
  for (std::size_t i = 0; i < records.size(); ++i) {
    const uint32_t root = clusters.find(static_cast<uint32_t>(i));
    if (root == i)
      continue;
    keep[i] = false;
    // The estimate against the kept record itself, which a chain of pairs may have linked
    // at a lower similarity than the threshold.
    const double est =
        estimate_jaccard(sigs.subspan(i * width, width), sigs.subspan(root * width, width));
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", est);
    reject(stats, q, records[i],
           std::string{"near duplicate (jaccard\u2248"} + buf + ") of " + records[root].id);
  }
  keep_flagged(records, keep);
  return stats;
}

} // namespace llmos::data
