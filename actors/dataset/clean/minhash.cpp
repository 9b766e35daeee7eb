#include "dataset/clean/minhash.hpp"

#include <algorithm>
#include <cstring>

#include <xxhash.h>

#include "dataset/clean/utf8.hpp"

// The signature loop is compiled for AVX2 as well as the baseline, chosen at load time, so the
// library stays portable and still runs 8 permutations per instruction where it can. Not under
// GCC's ThreadSanitizer: it instruments the load-time resolver, which then runs before the TSan
// runtime is up and crashes the program before main.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define LLMOS_MINHASH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LLMOS_MINHASH_CLONES
#endif

namespace llmos::dataset {
namespace {

// Permutations per pass over the shingles: 32 minima stay in four AVX2 registers.
constexpr std::size_t block = 32;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Eight 32-bit lanes (GCC/Clang vector extension): one AVX2 register, two SSE2 registers.
using u32x8 = uint32_t __attribute__((vector_size(32)));

// m[j] = min over x of a[j] * x + b[j] (mod 2^32), for one block of 32 permutations. Written
// out with vector types so the four running minima stay in registers: the auto-vectoriser at
// -O2 kept them in memory, a store and a load per shingle.
LLMOS_MINHASH_CLONES
void min_block(const uint32_t* x, std::size_t n, const uint32_t* a, const uint32_t* b,
               uint32_t* m) {
  u32x8 a0, a1, a2, a3, b0, b1, b2, b3;
  std::memcpy(&a0, a, sizeof(u32x8));
  std::memcpy(&a1, a + 8, sizeof(u32x8));
  std::memcpy(&a2, a + 16, sizeof(u32x8));
  std::memcpy(&a3, a + 24, sizeof(u32x8));
  std::memcpy(&b0, b, sizeof(u32x8));
  std::memcpy(&b1, b + 8, sizeof(u32x8));
  std::memcpy(&b2, b + 16, sizeof(u32x8));
  std::memcpy(&b3, b + 24, sizeof(u32x8));
  u32x8 m0 = u32x8{} + empty_signature_value;
  u32x8 m1 = m0, m2 = m0, m3 = m0;
  for (std::size_t i = 0; i < n; ++i) {
    const u32x8 xi = u32x8{} + x[i];
    const u32x8 v0 = a0 * xi + b0;
    const u32x8 v1 = a1 * xi + b1;
    const u32x8 v2 = a2 * xi + b2;
    const u32x8 v3 = a3 * xi + b3;
    m0 = v0 < m0 ? v0 : m0;
    m1 = v1 < m1 ? v1 : m1;
    m2 = v2 < m2 ? v2 : m2;
    m3 = v3 < m3 ? v3 : m3;
  }
  std::memcpy(m, &m0, sizeof(u32x8));
  std::memcpy(m + 8, &m1, sizeof(u32x8));
  std::memcpy(m + 16, &m2, sizeof(u32x8));
  std::memcpy(m + 24, &m3, sizeof(u32x8));
}

void word_shingles(std::string_view text, std::size_t k, std::vector<uint64_t>& out) {
  // Each word is hashed once; a shingle hashes its k word hashes, so any run of blanks
  // between words counts as one break.
  std::vector<uint64_t> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ')
      ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ')
      ++i;
    if (i > start)
      words.push_back(XXH3_64bits(text.data() + start, i - start));
  }
  if (words.empty())
    return;
  if (words.size() <= k) {
    out.push_back(XXH3_64bits(words.data(), words.size() * sizeof(uint64_t)));
    return;
  }
  for (std::size_t w = 0; w + k <= words.size(); ++w)
    out.push_back(XXH3_64bits(words.data() + w, k * sizeof(uint64_t)));
}

void char_shingles(std::string_view text, std::size_t k, std::vector<uint64_t>& out) {
  if (text.empty())
    return;
  if (is_ascii(text)) {
    if (text.size() <= k) {
      out.push_back(XXH3_64bits(text.data(), text.size()));
      return;
    }
    out.reserve(text.size() - k + 1);
    for (std::size_t i = 0; i + k <= text.size(); ++i)
      out.push_back(XXH3_64bits(text.data() + i, k));
    return;
  }
  std::vector<std::size_t> starts; // byte offset of every code point, then the end
  for (std::size_t i = 0; i < text.size();) {
    starts.push_back(i);
    next_code_point(text, i);
  }
  starts.push_back(text.size());
  const std::size_t n = starts.size() - 1;
  if (n <= k) {
    out.push_back(XXH3_64bits(text.data(), text.size()));
    return;
  }
  for (std::size_t i = 0; i + k <= n; ++i)
    out.push_back(XXH3_64bits(text.data() + starts[i], starts[i + k] - starts[i]));
}

} // namespace

void shingle_hashes(std::string_view text, const shingle_options& options,
                    std::vector<uint64_t>& out) {
  out.clear();
  const std::size_t k = std::max<std::size_t>(options.k, 1);
  if (options.unit == shingle_unit::word)
    word_shingles(text, k, out);
  else
    char_shingles(text, k, out);
}

std::vector<uint64_t> shingle_set(std::string_view text, const shingle_options& options) {
  std::vector<uint64_t> set;
  shingle_hashes(text, options, set);
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

double jaccard(std::span<const uint64_t> a, std::span<const uint64_t> b) {
  if (a.empty() && b.empty())
    return 1.0;
  std::size_t i = 0;
  std::size_t j = 0;
  std::size_t common = 0;
  // Branch-free merge: ground truth over all pairs of a sample spends its time here.
  while (i < a.size() && j < b.size()) {
    const uint64_t x = a[i];
    const uint64_t y = b[j];
    common += x == y ? 1 : 0;
    i += x <= y ? 1 : 0;
    j += y <= x ? 1 : 0;
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

double exact_jaccard(std::string_view a, std::string_view b, std::size_t k, shingle_unit unit) {
  const shingle_options options{unit, k};
  return jaccard(shingle_set(a, options), shingle_set(b, options));
}

minhasher::minhasher(std::size_t num_perm, uint64_t seed)
    : num_perm_(std::max<std::size_t>(num_perm, 1)) {
  const std::size_t padded = (num_perm_ + block - 1) / block * block;
  a_.resize(padded);
  b_.resize(padded);
  uint64_t state = seed;
  for (std::size_t i = 0; i < padded; ++i) {
    a_[i] = static_cast<uint32_t>(splitmix64(state)) | 1u; // odd: a bijection mod 2^32
    b_[i] = static_cast<uint32_t>(splitmix64(state));
  }
}

void minhasher::signature(std::span<const uint64_t> shingles, uint32_t* out) const {
  // Folding to 32 bits keeps collisions negligible (a few thousand shingles per document)
  // and halves the width of every lane in the loop below.
  thread_local std::vector<uint32_t> folded;
  folded.resize(shingles.size());
  for (std::size_t i = 0; i < shingles.size(); ++i)
    folded[i] = static_cast<uint32_t>(shingles[i] ^ (shingles[i] >> 32));
  uint32_t m[block];
  for (std::size_t b0 = 0; b0 < a_.size(); b0 += block) {
    min_block(folded.data(), folded.size(), a_.data() + b0, b_.data() + b0, m);
    std::copy_n(m, std::min(block, num_perm_ - std::min(num_perm_, b0)), out + b0);
  }
}

std::vector<uint32_t> minhasher::signature(std::span<const uint64_t> shingles) const {
  std::vector<uint32_t> out(num_perm_);
  signature(shingles, out.data());
  return out;
}

double estimate_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n == 0)
    return 0.0;
  std::size_t equal = 0;
  for (std::size_t i = 0; i < n; ++i)
    equal += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(equal) / static_cast<double>(n);
}

} // namespace llmos::dataset
