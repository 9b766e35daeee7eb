#include "llmos/runtime/state_dir.hpp"

#include <cstdlib>
#include <filesystem>

namespace llmos {

namespace {

std::string from_env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

} // namespace

std::string state_dir() {
  if (auto dir = from_env("LLMOS_STATE_DIR"); !dir.empty())
    return dir;
  auto data = from_env("LLMOS_DATA_DIR");
  if (data.empty())
    data = LLMOS_DEFAULT_DATA_DIR;
  return (std::filesystem::path{data}.parent_path() / "state").string();
}

} // namespace llmos
