#include "llmos/runtime/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmos/messages/error.hpp"

namespace llmos {
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

caf::expected<void> write_and_sync(const std::filesystem::path& path, std::string_view bytes,
                                   int open_flags) {
  fd_guard g{::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | open_flags, 0644)};
  if (g.fd < 0)
    return os_error("cannot create", path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(g.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return os_error("cannot write", path);
    done += static_cast<std::size_t>(n);
  }
  // Without this a later rename could reach the disk before the data, leaving an empty or
  // partial file under the final name after a power loss.
  if (::fsync(g.fd) != 0)
    return os_error("cannot fsync", path);
  const int fd = g.fd;
  g.fd = -1;
  if (::close(fd) != 0)
    return os_error("cannot close", path);
  return {};
}

} // namespace

caf::expected<void> write_file_synced(const std::filesystem::path& path, std::string_view bytes) {
  return write_and_sync(path, bytes, O_EXCL);
}

caf::expected<void> replace_file_atomically(const std::filesystem::path& path,
                                            const std::filesystem::path& tmp,
                                            std::string_view bytes) {
  if (auto ok = write_and_sync(tmp, bytes, O_TRUNC); !ok)
    return ok;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = os_error("cannot rename '" + tmp.string() + "' to", path);
    ::unlink(tmp.c_str());
    return err;
  }
  return fsync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

caf::expected<void>
replace_file_by(const std::filesystem::path& path,
                const std::function<caf::error(const std::string& tmp)>& write) {
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  try {
    if (path.has_parent_path())
      std::filesystem::create_directories(path.parent_path(), ec);
    std::filesystem::remove(tmp, ec); // a crashed writer's leftover
    if (auto err = write(tmp)) {
      std::filesystem::remove(tmp, ec);
      return err;
    }
  } catch (const std::exception& e) {
    std::filesystem::remove(tmp, ec);
    return make_llmos_error(error_code::io_failed,
                            "writing '" + path.string() + "' failed: " + e.what());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = os_error("cannot rename '" + tmp + "' to", path);
    std::filesystem::remove(tmp, ec);
    return err;
  }
  return {};
}

caf::expected<void> rename_no_replace(const std::filesystem::path& from,
                                      const std::filesystem::path& to) {
  // Plain rename(2) silently replaces an empty directory; NOREPLACE makes a numbering mistake
  // an error instead of a lost version.
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
    return os_error("cannot rename '" + from.string() + "' to", to);
  return {};
}

caf::expected<void> fsync_directory(const std::filesystem::path& dir) {
  fd_guard g{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (g.fd < 0)
    return os_error("cannot open directory for fsync", dir);
  if (::fsync(g.fd) != 0)
    return os_error("cannot fsync directory", dir);
  return {};
}

caf::expected<std::string> read_whole_file(const std::filesystem::path& path) {
  fd_guard g{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (g.fd < 0)
    return os_error("cannot open", path);
  struct stat st {};
  if (::fstat(g.fd, &st) != 0)
    return os_error("cannot stat", path);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::read(g.fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return os_error("cannot read", path);
    if (n == 0) // shrank while reading: keep what is there, the checksum will judge it
      break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

} // namespace llmos
