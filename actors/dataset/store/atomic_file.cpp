#include "dataset/store/atomic_file.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <string>

namespace llmos::dataset {
namespace {

std::atomic<uint64_t> next_temporary{1};

const std::string& host_name() {
  static const std::string name = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
      return std::string{"localhost"};
    std::string out{buf};
    for (auto& c : out) // '~' and '/' would break the name's fields or its folder
      if (c == '~' || c == '/')
        c = '_';
    return out;
  }();
  return name;
}

} // namespace

std::filesystem::path temporary_for(const std::filesystem::path& path) {
  auto tmp = path;
  tmp += ".~" + host_name() + "~" + std::to_string(::getpid()) + "~" +
         std::to_string(next_temporary++) + std::string{tmp_suffix};
  return tmp;
}

bool abandoned_temporary(const std::filesystem::path& file) {
  const auto name = file.filename().string();
  if (!name.ends_with(tmp_suffix))
    return false;
  const auto stem = std::string_view{name}.substr(0, name.size() - tmp_suffix.size());
  const auto at = stem.rfind(".~");
  if (at == std::string_view::npos)
    return true;                          // no owner recorded
  const auto owner = stem.substr(at + 2); // HOST~PID~N
  const auto first = owner.find('~');
  const auto second = owner.find('~', first == std::string_view::npos ? 0 : first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos)
    return true;
  if (owner.substr(0, first) != host_name())
    return false;
  const auto pid_text = owner.substr(first + 1, second - first - 1);
  long pid = 0;
  auto res = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (res.ec != std::errc{} || pid <= 0)
    return true;
  // Signal 0 only asks whether the process exists (EPERM: it does, another user's).
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes) {
  return replace_file_atomically(path, temporary_for(path), bytes);
}

} // namespace llmos::dataset
