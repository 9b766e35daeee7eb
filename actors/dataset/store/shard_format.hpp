// The shard file format: a msgpack array of maps {id, text, label, augmented, rows, cols, image,
// tokens, and label_source when the label is not the source's own: "labelling_functions",
// "model" or "human"}, one per record. Bulk data travels as msgpack `bin` (image pixels as raw
// uint8, token ids as int32 little-endian) and never as element lists: a bin is copied (or, on
// reading, referenced in place) as one block, an element list is packed and parsed value by value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/record.hpp"

namespace llmos::dataset {

/// One stored record; the views point into a record (writing) or a shard's bytes (reading).
struct shard_row_view {
  std::string_view id;
  std::string_view text;
  std::string_view label;
  std::string_view image;     ///< rows*cols uint8 pixels, or empty
  std::string_view tokens_le; ///< int32 little-endian token ids, or empty
  uint32_t rows = 0;
  uint32_t cols = 0;
  bool augmented = false;
  std::string_view label_source; ///< who gave the label ("" for the source's own, i.e. gold)

  /// The token ids decoded from tokens_le.
  std::vector<int32_t> tokens() const;

  /// An owning record with the stored fields (origin is not stored, and of meta only
  /// label_source).
  record to_record() const;
};

/// A view of `r` with `tokens_le` (see tokens_to_le) as its tokens.
shard_row_view view_of(const record& r, std::string_view tokens_le);

/// Token ids as int32 little-endian bytes (the `tokens` bin).
std::string tokens_to_le(std::span<const int32_t> tokens);

/// The msgpack bytes of one shard holding `rows` in order.
std::string encode_shard(std::span<const shard_row_view> rows);

} // namespace llmos::dataset
