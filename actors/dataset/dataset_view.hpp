// A stored data set version held in memory for serving: its records by split (with token ids),
// the tokenizer's pad id and its statistics. Loaded once per version from the shards (checksums
// verified); samples and batches are answered from here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "dataset/store/dataset_store.hpp"

namespace llmos::dataset {

/// One record as served.
struct served_record {
  std::string id;
  std::string text;
  std::string label;
  std::string image;
  uint32_t rows = 0;
  uint32_t cols = 0;
  bool augmented = false;
  std::string label_source; ///< "" (the source's own), labelling_functions, model or human
  std::vector<int32_t> tokens;
};

class dataset_view {
public:
  /// Reads every shard of `version` from `store`.
  static caf::expected<dataset_view> load(const dataset_store& store, const version_info& version);

  const version_info& version() const { return version_; }

  /// Records of "train", "validation" or "test" (empty for other names).
  const std::vector<served_record>& split(const std::string& name) const;

  /// True for the three split names.
  static bool is_split(const std::string& name);

  int32_t pad_id() const { return pad_id_; }
  uint32_t max_length() const { return max_length_; }
  bool images() const { return images_; }

  /// The version's tokenizer as serialized bytes ("" when it has none), for model packages.
  const std::string& tokenizer_bytes() const { return tokenizer_bytes_; }

private:
  version_info version_;
  std::map<std::string, std::vector<served_record>> splits_;
  int32_t pad_id_ = 0;
  uint32_t max_length_ = 128;
  bool images_ = false;
  std::string tokenizer_bytes_;
};

} // namespace llmos::dataset
