// The feedback log: an append-only file of checksummed records, so that what the loop learns
// from (served requests, people's corrections) survives restarts, kill -9 and power loss.
// Each record is a frame
//   u32 magic "LFB1" | u32 payload length | u64 XXH3_64bits(payload) | payload bytes
// with the integers in the machine's byte order as memcpy writes them (little-endian on every
// machine we run on; a log is not meant to move between architectures). A frame is written
// with one write(2) on an O_APPEND descriptor. Opening a log replays every intact record and
// stops at the first frame that is torn (a crash in the middle of a write) or damaged: the bytes
// from there on are copied aside to PATH.damaged-OFFSET, never deleted, and the log is cut back
// to its last good record so that new records follow intact ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace llmos::feedback {

/// When appended records are forced to the disk.
enum class fsync_policy : uint8_t {
  every_record, ///< fdatasync before append returns: an acknowledged record is durable
  batched,      ///< fdatasync once batch_records records are waiting, and on sync()
  none,         ///< left to the operating system (survives kill -9, not a power loss)
};

/// "every", "batched" or "none"; bad_config otherwise.
caf::expected<fsync_policy> parse_fsync_policy(const std::string& word);

/// "every", "batched" or "none".
std::string to_string(fsync_policy policy);

struct log_options {
  fsync_policy policy = fsync_policy::every_record;
  uint32_t batch_records = 64; ///< with batched: unsynced records that force an fdatasync
};

/// What opening a log found.
struct recovery_report {
  uint64_t records = 0;        ///< intact records replayed
  uint64_t dropped_bytes = 0;  ///< bytes after the last intact record, moved aside
  uint64_t damaged_offset = 0; ///< where the first torn or damaged frame starts
  std::string moved_to;        ///< the file that holds the dropped bytes ("" = none)
  std::string warning;         ///< for the operator's log ("" = the log was intact)
};

/// An open log that owns its file descriptor (and an exclusive flock on it, so that a second
/// writer cannot interleave or cut records). Movable, not copyable.
class record_log {
public:
  static constexpr uint32_t magic = 0x4C464231; ///< "LFB1"
  static constexpr std::size_t header_size = 16;
  static constexpr uint32_t max_payload = 64u << 20; ///< larger lengths mark a damaged frame

  /// Opens (creating the folders and the file if missing) the log at `path`, calls `on_record`
  /// with the payload of every intact record in order, and recovers from a torn or damaged
  /// frame as described above (`report`, when given, says what was found). io_failed names the
  /// path and the system's reason.
  static caf::expected<record_log> open(const std::string& path, log_options opts,
                                        const std::function<void(std::string_view)>& on_record,
                                        recovery_report* report = nullptr);

  record_log(record_log&& other) noexcept;
  record_log& operator=(record_log&& other) noexcept;
  record_log(const record_log&) = delete;
  record_log& operator=(const record_log&) = delete;
  /// Syncs what is unsynced (unless the policy is none) and closes; errors are lost here, so
  /// call sync() first where they matter.
  ~record_log();

  /// Appends one record and returns its sequence number (0-based count of records before it).
  /// A returned number is the acknowledgement: with every_record the record is on the disk;
  /// with batched or none acknowledge to others only after sync() has succeeded. A failed write
  /// is cut back off the file; after a failed fdatasync the log refuses further appends, since
  /// the kernel may have dropped the unsynced pages (reopen it to see what is on the disk).
  caf::expected<uint64_t> append(std::string_view payload);

  /// fdatasync if any record is unsynced.
  caf::error sync();

  /// Records appended since the last fdatasync.
  uint64_t unsynced() const { return unsynced_; }

  /// Records in the log (replayed plus appended).
  uint64_t records() const { return records_; }

  const std::string& path() const { return path_; }

private:
  record_log(std::string path, int fd, log_options opts, uint64_t records, uint64_t size);
  void close_fd();

  std::string path_;
  int fd_ = -1;
  log_options opts_;
  uint64_t records_ = 0;
  uint64_t size_ = 0; ///< bytes of intact records: where a failed append is cut back to
  uint64_t unsynced_ = 0;
  std::string failed_; ///< why the log refuses appends ("" = it does not)
};

} // namespace llmos::feedback
