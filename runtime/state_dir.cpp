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

std::string data_dir() {
  auto dir = from_env("LLMOS_DATA_DIR");
  return dir.empty() ? std::string{LLMOS_DEFAULT_DATA_DIR} : dir;
}

std::string state_dir() {
  if (auto dir = from_env("LLMOS_STATE_DIR"); !dir.empty())
    return dir;
  return (std::filesystem::path{data_dir()}.parent_path() / "state").string();
}

std::filesystem::path state_root(const std::string& configured, const std::filesystem::path& sub) {
  return configured.empty() ? std::filesystem::path{state_dir()} / sub
                            : std::filesystem::path{configured};
}

} // namespace llmos
