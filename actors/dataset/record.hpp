// One record of a data set as it moves through the pipeline: text (UTF-8) or an image, a label,
// and where it came from (file and line), so that every rule that rejects it can say where.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmos::dataset {

/// Where a record came from: "path:line" for line-based sources, the path for file sources.
struct source_location {
  std::string source; ///< the source's name in the pipeline file
  std::string path;
  uint64_t line = 0;  ///< 1-based first line; 0 when the record is a whole file or an image index
  uint64_t index = 0; ///< record index within the file (images, JSON Lines)

  /// "path:line" or "path#index".
  std::string to_string() const;
};

struct record {
  std::string id;    ///< stable within a data set version (source + position)
  std::string text;  ///< UTF-8; empty for images
  std::string label; ///< "" when unlabelled
  std::string image; ///< raw pixels (uint8, rows*cols) for image records, else empty
  uint32_t rows = 0;
  uint32_t cols = 0;
  bool augmented = false; ///< produced by augmentation: training split only
  source_location origin;
  std::map<std::string, std::string> meta; ///< extra columns / fields kept from the source
};

} // namespace llmos::dataset
