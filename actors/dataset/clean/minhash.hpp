// MinHash signatures for near-duplicate detection, and exact Jaccard similarity as their
// ground truth. Each shingle (k code points, or k words) is hashed once with xxh3; the
// num_perm "permutations" are then cheap bijections of that already random hash
// (x -> a*x + b mod 2^32, a odd), because a bijection of a random hash is again a random order
// of the shingles, and 32-bit lanes let the compiler run 8 permutations per AVX2 instruction.
// The estimate is the fraction of positions where two signatures agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace llmos::dataset {

/// What a shingle is made of.
enum class shingle_unit { character, word };

/// How a text is cut into shingles.
struct shingle_options {
  shingle_unit unit = shingle_unit::character;
  std::size_t k = 5; ///< code points (character) or words (word) per shingle
};

/// xxh3 of every k-shingle of `text` in order, repeats kept, appended to `out` (cleared first).
/// Words are separated by single spaces (dedupe_key(text, true)); a text shorter than k is one
/// shingle, an empty text none.
void shingle_hashes(std::string_view text, const shingle_options& options,
                    std::vector<uint64_t>& out);

/// The sorted, distinct shingle hashes of `text`: its shingle set.
std::vector<uint64_t> shingle_set(std::string_view text, const shingle_options& options);

/// |A ∩ B| / |A ∪ B| of two sorted distinct sets; 1 when both are empty.
double jaccard(std::span<const uint64_t> a, std::span<const uint64_t> b);

/// Exact Jaccard similarity of the k-shingle sets of `a` and `b` (taken as given: pass
/// dedupe keys to compare with near_dedupe).
double exact_jaccard(std::string_view a, std::string_view b, std::size_t k,
                     shingle_unit unit = shingle_unit::character);

/// The signature of an empty shingle set has every value equal to this.
inline constexpr uint32_t empty_signature_value = 0xFFFFFFFF;

/// Computes MinHash signatures with a fixed family of num_perm permutations.
class minhasher {
public:
  /// `num_perm` permutations drawn from `seed` (same seed, same signatures).
  explicit minhasher(std::size_t num_perm = 128, uint64_t seed = 1);

  /// Values per signature.
  std::size_t num_perm() const { return num_perm_; }

  /// Writes the signature of `shingles` (hashes, repeats allowed) to out[0 .. num_perm).
  void signature(std::span<const uint64_t> shingles, uint32_t* out) const;

  /// The signature of `shingles`.
  std::vector<uint32_t> signature(std::span<const uint64_t> shingles) const;

private:
  std::size_t num_perm_;
  std::vector<uint32_t> a_; ///< odd multipliers, padded to a multiple of the block size
  std::vector<uint32_t> b_;
};

/// The MinHash estimate of Jaccard similarity: the fraction of equal positions.
double estimate_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b);

} // namespace llmos::dataset
