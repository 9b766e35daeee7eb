#include "dataset/clean/lsh.hpp"

#include <algorithm>

#include <xxhash.h>

#include "dataset/clean/minhash.hpp"

namespace llmos::dataset {

lsh_index::lsh_index(std::span<const uint32_t> signatures, std::size_t count,
                     const lsh_options& options) {
  const std::size_t width = options.bands * options.rows;
  if (width == 0 || signatures.size() < count * width)
    return;
  entries_.reserve(count * options.bands);
  for (std::size_t d = 0; d < count; ++d) {
    const uint32_t* sig = signatures.data() + d * width;
    if (std::all_of(sig, sig + width, [](uint32_t v) { return v == empty_signature_value; }))
      continue;
    for (std::size_t band = 0; band < options.bands; ++band) {
      // Seeding with the band keeps equal slices of different bands in different buckets.
      const uint64_t key =
          XXH3_64bits_withSeed(sig + band * options.rows, options.rows * sizeof(uint32_t), band);
      entries_.push_back(entry{key, static_cast<uint32_t>(d)});
    }
  }
  std::sort(entries_.begin(), entries_.end(), [](const entry& x, const entry& y) {
    return x.key != y.key ? x.key < y.key : x.doc < y.doc;
  });
}

std::vector<candidate_pair> lsh_index::candidate_pairs() const {
  std::vector<candidate_pair> pairs;
  for_each_bucket([&](std::span<const uint32_t> members) {
    for (std::size_t i = 0; i < members.size(); ++i)
      for (std::size_t j = i + 1; j < members.size(); ++j)
        if (members[i] != members[j])
          pairs.emplace_back(members[i], members[j]);
  });
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

} // namespace llmos::dataset
