#include "registry/core/model_folder.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"
#include "registry/core/registry_names.hpp"
#include "registry/core/stamped_json.hpp"

namespace llmos::registry {
namespace {

namespace fs = std::filesystem;

// Bumped when aliases.json changes shape, so that an older reader refuses instead of misreading.
constexpr int aliases_format = 1;

caf::error corrupt(const fs::path& file, const std::string& what) {
  return make_llmos_error(error_code::bad_config, "'" + file.string() + "' is corrupt: " + what +
                                                      "; restore or delete the file");
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Whether the process that named a temporary may still be writing it. Our own pid counts as
// gone: temporaries are only swept by open(), and one process has one writer per root, so a
// temporary with our pid is a leftover of an earlier process that had the same pid (common in
// containers, where the registry restarts as the same small pid).
bool writer_alive(const std::string& entry, const char* prefix) {
  const auto rest = entry.substr(std::strlen(prefix));
  const auto dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || dash > 9 ||
      !std::all_of(rest.begin(), rest.begin() + static_cast<long>(dash),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const auto pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
  if (pid <= 0 || pid == ::getpid())
    return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

} // namespace

fs::path temporary_path(const fs::path& model_dir, const std::string& prefix,
                        const std::string& suffix) {
  // After fork() a child continues the sequence, but with its own pid in the name.
  static std::atomic<uint64_t> seq{0};
  return model_dir / (prefix + std::to_string(::getpid()) + "-" + std::to_string(++seq) + suffix);
}

caf::expected<void> sweep_temporaries(const fs::path& model_dir) {
  std::error_code ec;
  std::vector<fs::path> leftovers;
  for (fs::directory_iterator it{model_dir, ec}, end; !ec && it != end; it.increment(ec)) {
    const auto entry = it->path().filename().string();
    for (const char* prefix : {incoming_prefix, removing_prefix})
      if (starts_with(entry, prefix) && !writer_alive(entry, prefix))
        leftovers.push_back(it->path());
  }
  if (ec)
    return make_llmos_error(error_code::io_failed,
                            "cannot list '" + model_dir.string() + "': " + ec.message());
  for (const auto& path : leftovers)
    if (fs::remove_all(path, ec); ec)
      return make_llmos_error(error_code::io_failed,
                              "cannot remove leftover '" + path.string() + "': " + ec.message());
  if (!leftovers.empty())
    return fsync_directory(model_dir);
  return {};
}

caf::expected<std::vector<uint32_t>> list_version_numbers(const fs::path& model_dir) {
  std::vector<uint32_t> out;
  std::error_code ec;
  for (fs::directory_iterator it{model_dir, ec}, end; !ec && it != end; it.increment(ec))
    if (auto v = parse_version_dir_name(it->path().filename().string()); v && it->is_directory())
      out.push_back(*v);
  if (ec)
    return make_llmos_error(error_code::io_failed,
                            "cannot list '" + model_dir.string() + "': " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

caf::expected<std::map<std::string, uint32_t>> read_aliases(const fs::path& model_dir) {
  const auto file = model_dir / aliases_file_name;
  std::map<std::string, uint32_t> out;
  std::error_code ec;
  if (!fs::exists(file, ec) && !ec)
    return out;
  auto text = read_whole_file(file);
  if (!text)
    return text.error();
  nlohmann::json j;
  if (auto why = parse_stamped(*text, aliases_format, j); !why.empty())
    return corrupt(file, why);
  if (!j.contains("aliases") || !j["aliases"].is_object())
    return corrupt(file, "field 'aliases' must be an object");
  for (const auto& [alias, version] : j["aliases"].items()) {
    if (!is_valid_name(alias))
      return corrupt(file, "alias '" + alias + "' is not a valid name");
    if (!is_version_number(version))
      return corrupt(file, "alias '" + alias + "' must point at a version number from 1");
    out.emplace(alias, version.get<uint32_t>());
  }
  return out;
}

caf::expected<void> write_aliases(const fs::path& model_dir,
                                  const std::map<std::string, uint32_t>& aliases) {
  nlohmann::json j = {{"format", aliases_format}, {"aliases", nlohmann::json::object()}};
  for (const auto& [alias, version] : aliases)
    j["aliases"][alias] = version;
  return replace_file_atomically(model_dir / aliases_file_name,
                                 temporary_path(model_dir, incoming_prefix, "-aliases.json"),
                                 j.dump(2) + "\n");
}

caf::expected<uint64_t> read_next_version(const fs::path& model_dir) {
  const auto file = model_dir / next_version_file_name;
  std::error_code ec;
  if (!fs::exists(file, ec) && !ec)
    return uint64_t{0};
  auto text = read_whole_file(file);
  if (!text)
    return text.error();
  while (!text->empty() && text->back() == '\n')
    text->pop_back();
  if (text->empty() || text->size() > 19 ||
      text->find_first_not_of("0123456789") != std::string::npos)
    return corrupt(file, "expected one decimal number");
  return static_cast<uint64_t>(std::stoull(*text));
}

caf::expected<void> write_next_version(const fs::path& model_dir, uint64_t next) {
  return replace_file_atomically(model_dir / next_version_file_name,
                                 temporary_path(model_dir, incoming_prefix, "-next_version"),
                                 std::to_string(next) + "\n");
}

} // namespace llmos::registry
