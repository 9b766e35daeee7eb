#include "dataset/record.hpp"

namespace llmos::dataset {

std::string source_location::to_string() const {
  if (line > 0)
    return path + ":" + std::to_string(line);
  return path + "#" + std::to_string(index);
}

} // namespace llmos::dataset
