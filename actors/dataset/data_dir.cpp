#include "dataset/data_dir.hpp"

#include <filesystem>

namespace llmos::dataset {

std::string data_path(const std::string& relative) {
  auto p = std::filesystem::path{data_dir()} / relative;
  return std::filesystem::exists(p) ? p.string() : std::string{};
}

} // namespace llmos::dataset
