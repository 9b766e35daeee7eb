#include "dataset/clean/near_dedupe.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <unordered_map>

#include "dataset/clean/normalise.hpp"
#include "dataset/clean/union_find.hpp"

namespace llmos::dataset {

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

namespace {

// The shingle sets of the records that take part in candidate pairs, made when first needed.
class shingle_sets {
public:
  shingle_sets(const std::vector<record>& records, const shingle_options& options)
      : records_(records), options_(options) {}

  double jaccard_of(uint32_t a, uint32_t b) { return jaccard(get(a), get(b)); }

private:
  const std::vector<uint64_t>& get(uint32_t i) {
    auto it = sets_.find(i);
    if (it == sets_.end())
      it = sets_.emplace(i, shingle_set(near_dedupe_key(records_[i].text, options_.unit), options_))
               .first;
    return it->second;
  }

  const std::vector<record>& records_;
  shingle_options options_;
  std::unordered_map<uint32_t, std::vector<uint64_t>> sets_;
};

std::string format_similarity(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

} // namespace

std::vector<similar_pair> similar_pairs(const std::vector<record>& records,
                                        std::span<const uint32_t> signatures,
                                        const near_dedupe_options& options) {
  const std::size_t width = options.lsh.bands * options.lsh.rows;
  std::vector<similar_pair> out;
  if (width == 0 || signatures.size() < records.size() * width)
    return out;
  const lsh_index index{signatures, records.size(), options.lsh};
  shingle_sets sets{records, options.shingles};
  for (const auto& [a, b] : index.candidate_pairs()) {
    const double sim = options.verify == verify_mode::exact
                           ? sets.jaccard_of(a, b)
                           : estimate_jaccard(signatures.subspan(a * width, width),
                                              signatures.subspan(b * width, width));
    if (sim >= options.threshold)
      out.push_back(similar_pair{a, b, sim});
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
  for (const auto& p : similar_pairs(records, signatures, options))
    clusters.unite(p.first, p.second);
  std::vector<bool> keep(records.size(), true);
  const std::span<const uint32_t> sigs{signatures};
  shingle_sets sets{records, options.shingles};
  for (std::size_t i = 0; i < records.size(); ++i) {
    const uint32_t root = clusters.find(static_cast<uint32_t>(i));
    if (root == i)
      continue;
    keep[i] = false;
    // Measured against the kept record itself, which a chain of pairs may have linked at a
    // lower similarity than the threshold.
    const auto me = static_cast<uint32_t>(i);
    const double sim =
        options.verify == verify_mode::exact
            ? sets.jaccard_of(me, root)
            : estimate_jaccard(sigs.subspan(i * width, width), sigs.subspan(root * width, width));
    reject(stats, q, records[i],
           "near duplicate (jaccard\u2248" + format_similarity(sim) + ") of " + records[root].id);
  }
  keep_flagged(records, keep);
  return stats;
}

std::set<std::pair<uint32_t, uint32_t>> exact_similar_pairs(const std::vector<record>& records,
                                                            const near_dedupe_options& options) {
  std::vector<std::vector<uint64_t>> sets;
  for (const auto& r : records)
    sets.push_back(shingle_set(near_dedupe_key(r.text, options.shingles.unit), options.shingles));
  std::vector<uint32_t> order(records.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return sets[a].size() < sets[b].size(); });
  std::set<std::pair<uint32_t, uint32_t>> truth;
  for (std::size_t x = 0; x < order.size(); ++x) {
    for (std::size_t y = x + 1; y < order.size(); ++y) {
      const auto a = order[x];
      const auto b = order[y];
      if (static_cast<double>(sets[a].size()) <
          options.threshold * static_cast<double>(sets[b].size()))
        break;
      if (!sets[a].empty() && jaccard(sets[a], sets[b]) >= options.threshold)
        truth.emplace(std::min(a, b), std::max(a, b));
    }
  }
  return truth;
}

} // namespace llmos::dataset
