#include "dataset/data_dir.hpp"

#include <cstdlib>
#include <filesystem>

namespace llmos::dataset {

std::string data_dir() {
  if (const char* env = std::getenv("LLMOS_DATA_DIR"); env != nullptr && *env != '\0')
    return env;
  return LLMOS_DEFAULT_DATA_DIR;
}

std::string data_path(const std::string& relative) {
  auto p = std::filesystem::path{data_dir()} / relative;
  return std::filesystem::exists(p) ? p.string() : std::string{};
}

} // namespace llmos::dataset
