// The near_dedupe rule: MinHash signatures of every record's dedupe key, LSH banding to find
// candidate pairs, the Jaccard similarity of each candidate checked against a threshold
// (MinHash's estimate by default; the exact value of the shingle sets on request, which costs
// one more shingling of the records that have candidates and removes the estimate's noise
// around the threshold), and union-find to cluster what passes. The first record of each cluster is
// kept; every other one is quarantined with "near duplicate (jaccard≈0.87) of <id of the first>".
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataset/clean/lsh.hpp"
#include "dataset/clean/minhash.hpp"
#include "dataset/clean/rule_stats.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// How a candidate pair's similarity is measured.
enum class verify_mode {
  estimate, ///< MinHash agreement of the signatures
  exact,    ///< Jaccard similarity of the shingle sets
};

/// Options of near_dedupe (num_perm = lsh.bands * lsh.rows).
struct near_dedupe_options {
  shingle_options shingles;                   ///< 5-code-point shingles by default
  lsh_options lsh;                            ///< 16 bands x 8 rows by default
  double threshold = 0.8;                     ///< minimum Jaccard similarity of a near duplicate
  uint64_t seed = 1;                          ///< draws the permutations
  verify_mode verify = verify_mode::estimate; ///< how candidates are checked
};

/// A candidate pair that passed the threshold.
struct similar_pair {
  uint32_t first = 0; ///< lower index
  uint32_t second = 0;
  double similarity = 0; ///< estimated or exact Jaccard similarity (options.verify)
};

/// The string near_dedupe shingles: dedupe_key(text), with word breaks for word shingles.
std::string near_dedupe_key(std::string_view text, shingle_unit unit);

/// Signatures of every record (records.size() x num_perm values, one after another).
std::vector<uint32_t> minhash_signatures(const std::vector<record>& records,
                                         const near_dedupe_options& options);

/// The LSH candidate pairs among `records` (with their `signatures`) whose similarity reaches
/// the threshold, sorted.
std::vector<similar_pair> similar_pairs(const std::vector<record>& records,
                                        std::span<const uint32_t> signatures,
                                        const near_dedupe_options& options);

/// Ground truth for measuring the above: every pair (lower index first) whose exact Jaccard
/// on the same shingles reaches options.threshold. Quadratic, pruned by set size (J(A,B) <=
/// |A|/|B|): for tests and benchmarks on samples, not for pipelines.
std::set<std::pair<uint32_t, uint32_t>> exact_similar_pairs(const std::vector<record>& records,
                                                            const near_dedupe_options& options);

/// The rule: keeps the first record of every near-duplicate cluster, quarantines the rest.
rule_stats near_dedupe(std::vector<record>& records, quarantine& q,
                       const near_dedupe_options& options = {});

} // namespace llmos::dataset
