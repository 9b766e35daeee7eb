// What a data set version *is*: a content hash over everything that determines the data a model
// sees (records sorted by id with their text, label, image bytes and split part; the pipeline
// spec text; the tokenizer bytes), so the same inputs give the same version on any machine and in
// any input order, and any change to one of them gives a new version. Also the per-shard checksum.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/record.hpp"
#include "dataset/split/split.hpp"

namespace llmos::dataset {

/// The canonical record order (by id, then by content, then part): the order records are
/// hashed in and stored in, independent of the order they arrive in.
std::vector<std::size_t> canonical_order(const std::vector<record>& records,
                                         const std::vector<split_part>& assignment);

/// The version id: xxh3-128 as 32 lowercase hex digits; bad_params when `assignment` is not
/// aligned with `records`.
caf::expected<std::string> dataset_version(const std::vector<record>& records,
                                           const std::vector<split_part>& assignment,
                                           std::string_view pipeline_spec,
                                           std::string_view tokenizer_bytes);

/// xxh3-64 of `bytes` as 16 lowercase hex digits (the shard checksum).
std::string xxh3_64_hex(std::string_view bytes);

} // namespace llmos::dataset
