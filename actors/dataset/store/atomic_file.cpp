#include "dataset/store/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include "llmos/messages/error.hpp"

namespace llmos::data {
namespace {

caf::error os_error(const std::string& what, const std::filesystem::path& path) {
  return make_llmos_error(error_code::io_failed,
                          what + " '" + path.string() + "': " + std::strerror(errno));
}

// Closes on every exit path, so an early error return does not leak the descriptor.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

caf::expected<void> fsync_directory(const std::filesystem::path& dir) {
  fd_guard g{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (g.fd < 0)
    return os_error("cannot open directory for fsync", dir);
  if (::fsync(g.fd) != 0)
    return os_error("cannot fsync directory", dir);
  return {};
}

caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes) {
  auto tmp = path;
  tmp += tmp_suffix;
  {
    fd_guard g{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (g.fd < 0)
      return os_error("cannot create", tmp);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto n = ::write(g.fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return os_error("cannot write", tmp);
      done += static_cast<std::size_t>(n);
    }
    // Without this the rename could reach the disk before the data, leaving an empty or
    // partial file under the final name after a power loss.
    if (::fsync(g.fd) != 0)
      return os_error("cannot fsync", tmp);
    const int fd = g.fd;
    g.fd = -1;
    if (::close(fd) != 0)
      return os_error("cannot close", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return os_error("cannot rename '" + tmp.string() + "' to", path);
  return fsync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

caf::expected<std::string> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return os_error("cannot open", path);
  std::string out;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0)
    return os_error("cannot size", path);
  out.resize(static_cast<std::size_t>(size));
  in.seekg(0, std::ios::beg);
  if (!in.read(out.data(), static_cast<std::streamsize>(out.size())))
    return os_error("cannot read", path);
  return out;
}

} // namespace llmos::data
