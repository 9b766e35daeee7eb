// What an incremental ingest needs to know of the records a version stores already, so that it
// never rehashes them: each record's id, the 64-bit hash of its exact-dedupe key, and its LSH
// band keys under the pipeline's near_dedupe options. Kept beside the shards as one file per
// ingest ("keys-NNNNN.bin", see incremental_ingest.hpp); a new version links the files of its
// parent and adds one for its new records.
//
// File format (little-endian): "LLMOSKY1", u32 bands, u32 0, u64 options fingerprint, u64
// count; then per record u64 exact hash, `bands` u64 band keys, u32 id length, id bytes; then
// the xxh3-64 of everything before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/clean/near_dedupe.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

struct stored_keys {
  uint32_t bands = 0;              ///< band keys per record (0: no near_dedupe rule)
  uint64_t fingerprint = 0;        ///< of the near_dedupe options the band keys were made with
  std::vector<std::string> ids;    ///< one per record
  std::vector<uint64_t> exact;     ///< dedupe_hash of each record's text
  std::vector<uint64_t> band_keys; ///< bands per record, one record after another

  std::size_t size() const { return ids.size(); }

  /// Adds `more`'s records after these; false when they were made with other options.
  bool append(const stored_keys& more);

  /// The file's bytes.
  std::string encode() const;

  /// Reads a file's bytes; io_failed names `name` and what is wrong.
  static caf::expected<stored_keys> decode(std::string_view bytes, const std::string& name);
};

/// The band keys of a signature (as lsh_index buckets it), appended to `out`; nothing for the
/// signature of an empty document, which lsh_index leaves out.
void band_keys_of(std::span<const uint32_t> signature, const lsh_options& lsh,
                  std::vector<uint64_t>& out);

/// A fingerprint of the options that shape band keys (shingles, banding, seed).
uint64_t near_fingerprint(const near_dedupe_options& options);

/// The keys of `records`: exact hashes always, band keys when `near` is given.
stored_keys compute_stored_keys(const std::vector<record>& records,
                                const std::optional<near_dedupe_options>& near);

} // namespace llmos::dataset
