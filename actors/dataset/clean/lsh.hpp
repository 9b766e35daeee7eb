// Locality-sensitive hashing over MinHash signatures by banding: a signature of bands*rows
// values is cut into `bands` slices of `rows` values; two documents become a candidate pair
// when any slice is identical (they fall in the same bucket of that band). With similarity s
// the chance to become candidates is 1 - (1 - s^rows)^bands: for 16 x 8 that is 0.94 at
// s = 0.8 and 0.04 at s = 0.5, so only likely pairs are compared at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace llmos::dataset {

/// The banding of a signature: num_perm = bands * rows.
struct lsh_options {
  std::size_t bands = 16;
  std::size_t rows = 8;
};

/// One candidate pair, first < second (indices of the signatures).
using candidate_pair = std::pair<uint32_t, uint32_t>;

/// Buckets the signatures of a batch per band and lists the pairs that share a bucket.
class lsh_index {
public:
  /// Buckets `count` signatures stored one after another in `signatures` (bands*rows values
  /// each); signatures of empty documents are left out (they have no shingles to compare).
  lsh_index(std::span<const uint32_t> signatures, std::size_t count, const lsh_options& options);

  /// Every distinct pair that shares at least one bucket, sorted.
  std::vector<candidate_pair> candidate_pairs() const;

  /// Calls fn(members) for every bucket of two or more, members ascending.
  template <class F> void for_each_bucket(F&& fn) const {
    std::vector<uint32_t> members;
    std::size_t i = 0;
    while (i < entries_.size()) {
      std::size_t j = i + 1;
      while (j < entries_.size() && entries_[j].key == entries_[i].key)
        ++j;
      if (j - i > 1) {
        members.clear();
        for (std::size_t k = i; k < j; ++k)
          members.push_back(entries_[k].doc);
        fn(std::span<const uint32_t>{members});
      }
      i = j;
    }
  }

private:
  struct entry {
    uint64_t key; ///< hash of (band, the band's rows)
    uint32_t doc;
  };
  std::vector<entry> entries_; ///< sorted by key, then doc
};

} // namespace llmos::dataset
