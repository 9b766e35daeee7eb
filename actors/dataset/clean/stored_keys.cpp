#include "dataset/clean/stored_keys.hpp"

#include <algorithm>
#include <cstring>

#include <xxhash.h>

#include "dataset/clean/exact_dedupe.hpp"
#include "dataset/clean/minhash.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

constexpr std::string_view magic = "LLMOSKY1";

template <class T> void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T)); // the project builds for little-endian hosts only
  out.append(bytes, sizeof(T));
}

/// Reads what encode wrote, every length checked against what is left.
class key_reader {
public:
  explicit key_reader(std::string_view bytes) : bytes_(bytes) {}
  template <class T> bool get(T& value) {
    if (bytes_.size() - pos_ < sizeof(T))
      return false;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get(std::string& s, std::size_t n) {
    if (bytes_.size() - pos_ < n)
      return false;
    s.assign(bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t left() const { return bytes_.size() - pos_; }

private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

} // namespace

bool stored_keys::append(const stored_keys& more) {
  if (more.size() == 0)
    return true;
  if (size() == 0) {
    bands = more.bands;
    fingerprint = more.fingerprint;
  } else if (bands != more.bands || fingerprint != more.fingerprint) {
    return false;
  }
  ids.insert(ids.end(), more.ids.begin(), more.ids.end());
  exact.insert(exact.end(), more.exact.begin(), more.exact.end());
  band_keys.insert(band_keys.end(), more.band_keys.begin(), more.band_keys.end());
  return true;
}

std::string stored_keys::encode() const {
  std::string out{magic};
  put(out, bands);
  put(out, uint32_t{0});
  put(out, fingerprint);
  put(out, static_cast<uint64_t>(ids.size()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    put(out, exact[i]);
    for (std::size_t b = 0; b < bands; ++b)
      put(out, band_keys[i * bands + b]);
    put(out, static_cast<uint32_t>(ids[i].size()));
    out += ids[i];
  }
  put(out, static_cast<uint64_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

caf::expected<stored_keys> stored_keys::decode(std::string_view bytes, const std::string& name) {
  auto bad = [&](const std::string& what) {
    return make_llmos_error(error_code::io_failed, "stored keys '" + name + "': " + what);
  };
  if (bytes.size() < magic.size() + 32 || bytes.substr(0, magic.size()) != magic)
    return bad("not a keys file (no LLMOSKY1 header)");
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (XXH3_64bits(bytes.data(), bytes.size() - 8) != sum)
    return bad("checksum mismatch (a torn or damaged file)");
  key_reader in{bytes.substr(magic.size(), bytes.size() - magic.size() - 8)};
  stored_keys k;
  uint32_t reserved = 0;
  uint64_t count = 0;
  in.get(k.bands);
  in.get(reserved);
  in.get(k.fingerprint);
  in.get(count);
  // Every record takes at least 12 bytes: a count beyond that is a lie, not an allocation.
  if (k.bands > 4096 || count > in.left() / 12)
    return bad("impossible header (bands " + std::to_string(k.bands) + ", records " +
               std::to_string(count) + ")");
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t exact = 0, key = 0;
    uint32_t length = 0;
    std::string id;
    bool ok = in.get(exact);
    for (uint32_t b = 0; ok && b < k.bands; ++b) {
      ok = in.get(key);
      k.band_keys.push_back(key);
    }
    if (!ok || !in.get(length) || !in.get(id, length))
      return bad("record " + std::to_string(i) + " is cut short");
    k.exact.push_back(exact);
    k.ids.push_back(std::move(id));
  }
  if (in.left() != 0)
    return bad(std::to_string(in.left()) + " bytes after the last record");
  return k;
}

void band_keys_of(std::span<const uint32_t> signature, const lsh_options& lsh,
                  std::vector<uint64_t>& out) {
  for (std::size_t band = 0; band < lsh.bands; ++band)
    // As lsh_index: seeding with the band keeps equal slices of different bands apart.
    out.push_back(XXH3_64bits_withSeed(signature.data() + band * lsh.rows,
                                       lsh.rows * sizeof(uint32_t), band));
}

uint64_t near_fingerprint(const near_dedupe_options& o) {
  const uint64_t fields[] = {o.shingles.k, static_cast<uint64_t>(o.shingles.unit), o.lsh.bands,
                             o.lsh.rows, o.seed};
  return XXH3_64bits(fields, sizeof fields);
}

stored_keys compute_stored_keys(const std::vector<record>& records,
                                const std::optional<near_dedupe_options>& near) {
  stored_keys k;
  k.ids.reserve(records.size());
  k.exact.reserve(records.size());
  for (const auto& r : records) {
    k.ids.push_back(r.id);
    k.exact.push_back(dedupe_hash(r.text));
  }
  if (!near)
    return k;
  k.bands = static_cast<uint32_t>(near->lsh.bands);
  k.fingerprint = near_fingerprint(*near);
  const std::size_t width = near->lsh.bands * near->lsh.rows;
  const auto signatures = minhash_signatures(records, *near);
  k.band_keys.reserve(records.size() * near->lsh.bands);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::span<const uint32_t> sig{signatures.data() + i * width, width};
    if (std::all_of(sig.begin(), sig.end(), [](uint32_t v) { return v == empty_signature_value; }))
      k.band_keys.insert(k.band_keys.end(), near->lsh.bands, 0); // no shingles: never a pair
    else
      band_keys_of(sig, near->lsh, k.band_keys);
  }
  return k;
}

} // namespace llmos::dataset
