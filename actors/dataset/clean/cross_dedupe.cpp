#include "dataset/clean/cross_dedupe.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "dataset/clean/exact_dedupe.hpp"
#include "dataset/clean/minhash.hpp"
#include "dataset/clean/normalise.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

/// The keys of the few new records, asked about every key stored (millions of band keys): a
/// bitmap of 2^20 bits answers almost every "no" with one load before the sorted keys are
/// searched (a hash multimap spent 30 ms per 100k stored records here).
class fresh_keys {
public:
  void add(uint64_t key, uint32_t fresh) { sorted_.emplace_back(key, fresh); }

  void seal() {
    std::sort(sorted_.begin(), sorted_.end());
    for (const auto& entry : sorted_)
      bits_[slot(entry.first) / 64] |= uint64_t{1} << (slot(entry.first) % 64);
  }

  bool empty() const { return sorted_.empty(); }

  /// Calls fn(fresh index) for every new record with `key`.
  template <class F> void for_each(uint64_t key, F&& fn) const {
    if ((bits_[slot(key) / 64] & (uint64_t{1} << (slot(key) % 64))) == 0)
      return;
    auto it =
        std::lower_bound(sorted_.begin(), sorted_.end(), std::pair<uint64_t, uint32_t>{key, 0});
    for (; it != sorted_.end() && it->first == key; ++it)
      fn(it->second);
  }

private:
  static std::size_t slot(uint64_t key) { return (key >> 7) & ((std::size_t{1} << 20) - 1); }

  std::vector<std::pair<uint64_t, uint32_t>> sorted_;
  std::vector<uint64_t> bits_ = std::vector<uint64_t>((std::size_t{1} << 20) / 64);
};

/// The stored indices of `pairs` (stored, fresh), each once.
std::vector<uint32_t> stored_side(const std::set<std::pair<uint32_t, uint32_t>>& pairs) {
  std::vector<uint32_t> out;
  for (const auto& [stored, fresh] : pairs)
    out.push_back(stored);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string earlier(const std::string& id) {
  return id + " (stored by an earlier ingest)";
}

/// Similarity of two texts as near_dedupe measures it.
double similarity(const std::string& a, const std::string& b, const near_dedupe_options& o) {
  if (o.verify == verify_mode::exact)
    return jaccard(shingle_set(near_dedupe_key(a, o.shingles.unit), o.shingles),
                   shingle_set(near_dedupe_key(b, o.shingles.unit), o.shingles));
  std::vector<record> two(2);
  two[0].text = a;
  two[1].text = b;
  const auto sigs = minhash_signatures(two, o);
  const std::size_t width = o.lsh.bands * o.lsh.rows;
  const std::span<const uint32_t> all{sigs};
  return estimate_jaccard(all.subspan(0, width), all.subspan(width, width));
}

/// The (stored, fresh) pairs whose keys meet: `stored_keys` holds `stride` keys per stored
/// record, one record after another.
std::set<std::pair<uint32_t, uint32_t>> candidates_of(const fresh_keys& wanted,
                                                      const std::vector<uint64_t>& stored_keys,
                                                      std::size_t stride) {
  std::set<std::pair<uint32_t, uint32_t>> out;
  for (std::size_t k = 0; k < stored_keys.size() && !wanted.empty(); ++k)
    wanted.for_each(stored_keys[k],
                    [&](uint32_t j) { out.emplace(static_cast<uint32_t>(k / stride), j); });
  return out;
}

/// Reads the stored texts of `candidates` and removes every fresh record that `reason` (stored
/// text, fresh record) calls a repeat of one ("" : not a repeat), quarantining it under
/// stats.rule with that reason and the stored record's id.
template <class Reason>
caf::expected<rule_stats>
remove_confirmed(std::vector<record>& fresh, const stored_keys& stored,
                 const std::set<std::pair<uint32_t, uint32_t>>& candidates,
                 const stored_texts_fn& texts, quarantine& q, rule_stats stats, Reason reason) {
  if (candidates.empty())
    return stats;
  auto known = texts(stored_side(candidates));
  if (!known)
    return std::move(known.error());
  std::vector<bool> keep(fresh.size(), true);
  for (const auto& [i, j] : candidates) {
    const auto text = known->find(i);
    if (!keep[j] || text == known->end())
      continue;
    if (auto why = reason(text->second, fresh[j]); !why.empty()) {
      keep[j] = false;
      reject(stats, q, fresh[j], why + " of " + earlier(stored.ids[i]));
    }
  }
  keep_flagged(fresh, keep);
  return stats;
}

} // namespace

caf::expected<rule_stats> exact_dedupe_against(std::vector<record>& fresh,
                                               const stored_keys& stored,
                                               const stored_texts_fn& texts, quarantine& q) {
  rule_stats stats{"exact_dedupe", 0, 0, {}};
  fresh_keys wanted;
  for (std::size_t j = 0; j < fresh.size(); ++j)
    wanted.add(dedupe_hash(fresh[j].text), static_cast<uint32_t>(j));
  wanted.seal();
  return remove_confirmed(fresh, stored, candidates_of(wanted, stored.exact, 1), texts, q,
                          std::move(stats), [](const std::string& text, const record& r) {
                            // Confirmed on the keys: a 64-bit collision between different
                            // documents keeps both.
                            return dedupe_key(text) == dedupe_key(r.text) ? std::string{"duplicate"}
                                                                          : std::string{};
                          });
}

caf::expected<rule_stats> near_dedupe_against(std::vector<record>& fresh, const stored_keys& stored,
                                              const stored_texts_fn& texts, quarantine& q,
                                              const near_dedupe_options& options) {
  rule_stats stats{"near_dedupe", 0, 0, {}};
  if (fresh.empty() || stored.size() == 0)
    return stats;
  if (stored.bands != options.lsh.bands || stored.fingerprint != near_fingerprint(options))
    return make_llmos_error(error_code::bad_config,
                            "near_dedupe: the stored records' band keys were made with other "
                            "options; ingest in full once");
  const auto mine = compute_stored_keys(fresh, options);
  fresh_keys wanted;
  for (std::size_t j = 0; j < fresh.size(); ++j)
    for (std::size_t b = 0; b < stored.bands; ++b)
      if (const auto key = mine.band_keys[j * stored.bands + b]; key != 0)
        wanted.add(key, static_cast<uint32_t>(j));
  wanted.seal();
  return remove_confirmed(fresh, stored, candidates_of(wanted, stored.band_keys, stored.bands),
                          texts, q, std::move(stats),
                          [&](const std::string& text, const record& r) {
                            const double sim = similarity(text, r.text, options);
                            if (sim < options.threshold)
                              return std::string{};
                            char shown[16];
                            std::snprintf(shown, sizeof shown, "%.2f", sim);
                            return std::string{"near duplicate (jaccard≈"} + shown + ")";
                          });
}

} // namespace llmos::dataset
