// Disjoint sets over 0..n-1 for clustering near-duplicate pairs. The smaller index always
// becomes the root, so a cluster's root is its first record: the one near_dedupe keeps.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

namespace llmos::dataset {

/// Union-find with path halving; the root of a set is its lowest member.
class union_find {
public:
  /// n singleton sets.
  explicit union_find(std::size_t n) : parent_(n) {
    std::iota(parent_.begin(), parent_.end(), uint32_t{0});
  }

  /// The lowest member of x's set.
  uint32_t find(uint32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }

  /// Merges the sets of x and y.
  void unite(uint32_t x, uint32_t y) {
    x = find(x);
    y = find(y);
    if (x < y)
      parent_[y] = x;
    else if (y < x)
      parent_[x] = y;
  }

private:
  std::vector<uint32_t> parent_;
};

} // namespace llmos::dataset
