#include "feedback/core/record_log.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "llmos/messages/enum_names.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"

namespace llmos::feedback {
namespace fs = std::filesystem;

namespace {

caf::error os_error(const std::string& what, const std::string& path) {
  return make_llmos_error(error_code::io_failed, what + " '" + path + "': " + std::strerror(errno));
}

// Closes on every early return of open(); release() hands the descriptor on.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

/// Reads up to `n` bytes at `offset`; fewer only at the end of the file.
caf::expected<std::size_t> read_at(int fd, uint64_t offset, char* dst, std::size_t n,
                                   const std::string& path) {
  std::size_t done = 0;
  while (done < n) {
    const auto got = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return os_error("cannot read the feedback log", path);
    if (got == 0)
      break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

caf::error write_all(int fd, const char* data, std::size_t n, const std::string& path) {
  std::size_t done = 0;
  while (done < n) {
    const auto put = ::write(fd, data + done, n - done);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      return os_error("cannot write", path);
    done += static_cast<std::size_t>(put);
  }
  return {};
}

/// Copies bytes [offset, size) of the log to a new file beside it, fsyncs it and its folder, and
/// returns its name. A name already taken (an earlier recovery at the same offset) gets ".N".
caf::expected<std::string> move_aside(int fd, const std::string& path, uint64_t offset,
                                      uint64_t size) {
  const std::string base = path + ".damaged-" + std::to_string(offset);
  std::string name = base;
  fd_guard out;
  for (int n = 1; out.fd < 0; ++n) {
    out.fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out.fd < 0 && (errno != EEXIST || n > 1000))
      return os_error("cannot create", name);
    if (out.fd < 0)
      name = base + "." + std::to_string(n);
  }
  std::string chunk(1u << 20, '\0');
  for (uint64_t at = offset; at < size;) {
    const auto want = static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), size - at));
    auto got = read_at(fd, at, chunk.data(), want, path);
    if (!got)
      return got.error();
    if (*got == 0)
      break;
    if (auto err = write_all(out.fd, chunk.data(), *got, name))
      return err;
    at += *got;
  }
  if (::fsync(out.fd) != 0)
    return os_error("cannot fsync", name);
  const auto parent = fs::path(path).parent_path();
  if (auto ok = fsync_directory(parent.empty() ? fs::path(".") : parent); !ok)
    return ok.error();
  return name;
}

/// Why the frame at `offset` is not an intact record ("" = it is; `payload` then holds it).
caf::expected<std::string> check_frame(int fd, const std::string& path, uint64_t offset,
                                       uint64_t size, std::string& payload) {
  char header[record_log::header_size];
  if (size - offset < record_log::header_size)
    return std::string("torn header");
  auto got = read_at(fd, offset, header, sizeof header, path);
  if (!got)
    return got.error();
  if (*got < sizeof header)
    return std::string("torn header");
  uint32_t magic = 0, length = 0;
  uint64_t hash = 0;
  std::memcpy(&magic, header, 4);
  std::memcpy(&length, header + 4, 4);
  std::memcpy(&hash, header + 8, 8);
  if (magic != record_log::magic)
    return std::string("bad magic");
  if (length > record_log::max_payload)
    return "impossible length " + std::to_string(length);
  if (size - offset - record_log::header_size < length)
    return std::string("torn payload");
  payload.resize(length);
  got = read_at(fd, offset + record_log::header_size, payload.data(), length, path);
  if (!got)
    return got.error();
  if (*got < length)
    return std::string("torn payload");
  if (XXH3_64bits(payload.data(), payload.size()) != hash)
    return std::string("checksum mismatch");
  return std::string{};
}

constexpr enum_name<fsync_policy> fsync_names[] = {{fsync_policy::every_record, "every"},
                                                   {fsync_policy::batched, "batched"},
                                                   {fsync_policy::none, "none"}};

} // namespace

caf::expected<fsync_policy> parse_fsync_policy(const std::string& word) {
  if (auto policy = value_of(fsync_names, word))
    return *policy;
  return make_llmos_error(error_code::bad_config,
                          "fsync policy '" + word + "' is unknown; use " + names_of(fsync_names));
}

std::string to_string(fsync_policy policy) {
  return std::string{name_of(fsync_names, policy, "none")};
}

namespace {

/// The log file opened for appending and locked against a second writer; a new file's folder
/// is synced so that the file survives a crash.
caf::expected<int> open_locked(const std::string& path) {
  const auto parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::create_directories(parent, ec) && ec)
    return make_llmos_error(error_code::io_failed,
                            "cannot create the folder of the feedback log '" + path +
                                "': " + ec.message());
  const bool existed = fs::exists(path, ec);
  fd_guard g{::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (g.fd < 0)
    return os_error("cannot open the feedback log", path);
  // A second writer would interleave frames, and its recovery could cut the first one's records.
  if (::flock(g.fd, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK
               ? make_llmos_error(error_code::io_failed,
                                  "the feedback log '" + path +
                                      "' is already open (in another process or another log "
                                      "object); only one writer may own it")
               : os_error("cannot lock the feedback log", path);
  if (!existed)
    if (auto ok = fsync_directory(parent.empty() ? fs::path(".") : parent); !ok)
      return ok.error();
  return g.release();
}

/// The bytes from the first damaged record on are moved aside, then the log is cut back to its
/// last good record.
caf::error cut_damaged_tail(int fd, const std::string& path, uint64_t offset, uint64_t size,
                            const std::string& problem, recovery_report& found) {
  auto moved = move_aside(fd, path, offset, size);
  if (!moved)
    return moved.error();
  // Only now that the bytes are safe elsewhere is the log cut back.
  if (::ftruncate(fd, static_cast<off_t>(offset)) != 0)
    return os_error("cannot truncate the feedback log", path);
  if (::fsync(fd) != 0)
    return os_error("cannot fsync the feedback log", path);
  found.dropped_bytes = size - offset;
  found.damaged_offset = offset;
  found.moved_to = *moved;
  found.warning = path + ": record at byte " + std::to_string(offset) + " is torn or damaged (" +
                  problem + "); " + std::to_string(found.dropped_bytes) + " bytes moved to " +
                  *moved + "; the log continues after record " + std::to_string(found.records);
  return {};
}

} // namespace

caf::expected<record_log> record_log::open(const std::string& path, log_options opts,
                                           const std::function<void(std::string_view)>& on_record,
                                           recovery_report* report) {
  auto fd = open_locked(path);
  if (!fd)
    return fd.error();
  fd_guard g{*fd};
  struct stat st {};
  if (::fstat(g.fd, &st) != 0)
    return os_error("cannot stat the feedback log", path);
  const auto size = static_cast<uint64_t>(st.st_size);
  // Every whole record is replayed; the first damaged one ends the replay.
  recovery_report found;
  uint64_t offset = 0;
  std::string payload;
  std::string problem;
  while (offset < size) {
    auto why = check_frame(g.fd, path, offset, size, payload);
    if (!why)
      return why.error();
    if (!why->empty()) {
      problem = *why;
      break;
    }
    if (on_record)
      on_record(payload);
    ++found.records;
    offset += header_size + payload.size();
  }
  if (!problem.empty())
    if (auto err = cut_damaged_tail(g.fd, path, offset, size, problem, found))
      return err;
  if (report != nullptr)
    *report = found;
  return record_log{path, g.release(), opts, found.records, offset};
}

record_log::record_log(std::string path, int fd, log_options opts, uint64_t records, uint64_t size)
    : path_(std::move(path)), fd_(fd), opts_(opts), records_(records), size_(size) {
  if (opts_.batch_records == 0)
    opts_.batch_records = 1;
}

record_log::record_log(record_log&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), opts_(other.opts_),
      records_(other.records_), size_(other.size_), unsynced_(std::exchange(other.unsynced_, 0)),
      failed_(std::move(other.failed_)) {}

record_log& record_log::operator=(record_log&& other) noexcept {
  if (this != &other) {
    close_fd();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    opts_ = other.opts_;
    records_ = other.records_;
    size_ = other.size_;
    unsynced_ = std::exchange(other.unsynced_, 0);
    failed_ = std::move(other.failed_);
  }
  return *this;
}

record_log::~record_log() {
  close_fd();
}

void record_log::close_fd() {
  if (fd_ < 0)
    return;
  if (opts_.policy != fsync_policy::none && unsynced_ > 0 && failed_.empty())
    ::fdatasync(fd_);
  ::close(fd_);
  fd_ = -1;
}

caf::expected<uint64_t> record_log::append(std::string_view payload) {
  if (fd_ < 0)
    return make_llmos_error(error_code::io_failed, "the feedback log '" + path_ + "' is closed");
  if (!failed_.empty())
    return make_llmos_error(error_code::io_failed, failed_);
  if (payload.size() > max_payload)
    return make_llmos_error(error_code::bad_params,
                            "a record of " + std::to_string(payload.size()) +
                                " bytes is larger than the feedback log's limit of " +
                                std::to_string(max_payload) + " bytes");
  // One buffer, one write(2): a crash leaves at most a torn tail, never a frame split by another.
  std::string frame(header_size + payload.size(), '\0');
  const uint32_t length = static_cast<uint32_t>(payload.size());
  const uint64_t hash = XXH3_64bits(payload.data(), payload.size());
  std::memcpy(frame.data(), &magic, 4);
  std::memcpy(frame.data() + 4, &length, 4);
  std::memcpy(frame.data() + 8, &hash, 8);
  std::memcpy(frame.data() + header_size, payload.data(), payload.size());
  if (auto err = write_all(fd_, frame.data(), frame.size(), path_)) {
    // A partial frame would hide every later record from the next open: cut it off now.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0)
      failed_ = "the feedback log '" + path_ + "' has a partly written record that could not be " +
                "cut off (" + std::strerror(errno) + "); reopen it to recover";
    return err;
  }
  size_ += frame.size();
  const uint64_t sequence = records_++;
  ++unsynced_;
  const bool due = opts_.policy == fsync_policy::every_record ||
                   (opts_.policy == fsync_policy::batched && unsynced_ >= opts_.batch_records);
  if (due)
    if (auto err = sync())
      return err;
  return sequence;
}

caf::error record_log::sync() {
  if (fd_ < 0)
    return make_llmos_error(error_code::io_failed, "the feedback log '" + path_ + "' is closed");
  if (!failed_.empty())
    return make_llmos_error(error_code::io_failed, failed_);
  if (unsynced_ == 0)
    return {};
  if (::fdatasync(fd_) != 0) {
    // After a failed fdatasync the kernel may have dropped the dirty pages and report success
    // next time, so no later sync can vouch for these records.
    failed_ = "cannot fdatasync the feedback log '" + path_ + "': " + std::strerror(errno) +
              "; the last " + std::to_string(unsynced_) +
              " records may be lost; reopen the log to see what is on the disk";
    return make_llmos_error(error_code::io_failed, failed_);
  }
  unsynced_ = 0;
  return {};
}

} // namespace llmos::feedback
