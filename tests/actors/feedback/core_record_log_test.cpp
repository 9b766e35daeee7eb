// The feedback log: records round-trip byte for byte under every fsync policy and survive
// reopening with their numbering; a torn tail or a damaged record is caught, its bytes are moved
// aside (never deleted), the log is cut back to its last good record and appends continue.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "feedback/core/record_log.hpp"
#include "llmos/messages/error.hpp"
#include "test_support.hpp"

using namespace llmos::feedback;
using llmos::feedback::testing::context_of;
using llmos::feedback::testing::read_bytes;
using llmos::feedback::testing::temp_folder;
using llmos::feedback::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

/// Record n's payload: its number, then a run of varied length so frames differ in size.
std::string payload(uint64_t n) {
  return "record-" + std::to_string(n) + "-" +
         std::string((n * 37) % 300, static_cast<char>('a' + n % 26));
}

struct replayed {
  std::vector<std::string> payloads;
  recovery_report report;
};

/// Opens the log at `path`, collects its records and closes it again.
replayed replay(const std::string& path) {
  replayed out;
  auto log = record_log::open(
      path, {}, [&](std::string_view p) { out.payloads.emplace_back(p); }, &out.report);
  EXPECT_TRUE(log) << (log ? "" : context_of(log.error()));
  return out;
}

/// Appends `count` records payload(first)... and checks their sequence numbers.
void append_records(record_log& log, uint64_t first, uint64_t count) {
  for (uint64_t n = first; n < first + count; ++n) {
    auto seq = log.append(payload(n));
    ASSERT_TRUE(seq) << context_of(seq.error());
    EXPECT_EQ(*seq, n);
  }
}

/// A log "f.log" in `dir` holding payload(0)..payload(count - 1), closed again.
std::string written_log(const temp_folder& dir, uint64_t count) {
  const auto path = dir / "f.log";
  auto log = record_log::open(path, {}, nullptr);
  EXPECT_TRUE(log) << (log ? "" : context_of(log.error()));
  if (log)
    append_records(*log, 0, count);
  return path;
}

std::vector<std::string> payloads(uint64_t count) {
  std::vector<std::string> out;
  for (uint64_t n = 0; n < count; ++n)
    out.push_back(payload(n));
  return out;
}

/// Byte offset of record `n` in a log of payload(0)...
uint64_t offset_of(uint64_t n) {
  uint64_t offset = 0;
  for (uint64_t i = 0; i < n; ++i)
    offset += record_log::header_size + payload(i).size();
  return offset;
}

TEST(record_log, parses_fsync_policies) {
  EXPECT_EQ(*parse_fsync_policy("every"), fsync_policy::every_record);
  EXPECT_EQ(*parse_fsync_policy("batched"), fsync_policy::batched);
  EXPECT_EQ(*parse_fsync_policy("none"), fsync_policy::none);
  auto bad = parse_fsync_policy("always");
  ASSERT_FALSE(bad);
  EXPECT_EQ(context_of(bad.error()),
            "fsync policy 'always' is unknown; use every, batched or none");
  EXPECT_EQ(to_string(fsync_policy::batched), "batched");
}

TEST(record_log, round_trips_under_every_policy) {
  temp_folder dir;
  // Zero bytes, an empty record and every byte value: a C-string or text-mode slip shows.
  std::string binary;
  for (int b = 0; b < 256; ++b)
    binary.push_back(static_cast<char>(b));
  const std::vector<std::string> records{"first", "", binary, std::string(100'000, 'x'), "last"};
  struct policy_case {
    fsync_policy policy;
    uint64_t unsynced_after; ///< after the five appends (batches of 2)
  };
  for (const auto& c :
       {policy_case{fsync_policy::every_record, 0}, policy_case{fsync_policy::batched, 1},
        policy_case{fsync_policy::none, 5}}) {
    SCOPED_TRACE(to_string(c.policy));
    const auto path = dir / ("nested/folder/" + to_string(c.policy) + ".log");
    {
      auto log = record_log::open(path, {c.policy, 2}, nullptr);
      ASSERT_TRUE(log) << context_of(log.error());
      for (uint64_t i = 0; i < records.size(); ++i)
        EXPECT_EQ(*log->append(records[i]), i);
      EXPECT_EQ(log->records(), 5u);
      EXPECT_EQ(log->unsynced(), c.unsynced_after);
      EXPECT_FALSE(log->sync());
      EXPECT_EQ(log->unsynced(), 0u);
      EXPECT_EQ(log->path(), path);
    }
    uint64_t bytes = 0;
    for (const auto& r : records)
      bytes += record_log::header_size + r.size();
    EXPECT_EQ(fs::file_size(path), bytes);
    const auto again = replay(path);
    EXPECT_EQ(again.payloads, records);
    EXPECT_EQ(again.report.records, 5u);
    EXPECT_EQ(again.report.warning, "");
    EXPECT_EQ(again.report.moved_to, "");
  }
}

TEST(record_log, frame_layout_is_magic_length_checksum_payload) {
  temp_folder dir;
  const auto path = dir / "f.log";
  {
    auto log = record_log::open(path, {}, nullptr);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append("abc"));
  }
  const auto bytes = read_bytes(path);
  ASSERT_EQ(bytes.size(), 19u);
  EXPECT_EQ(bytes.substr(0, 4), "1BFL") << "0x4C464231 written little-endian";
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x03\x00\x00\x00", 4));
  EXPECT_EQ(bytes.substr(16), "abc");
}

TEST(record_log, reopening_counts_and_continues_the_numbering) {
  temp_folder dir;
  const auto path = written_log(dir, 3);
  {
    recovery_report report;
    auto log = record_log::open(path, {}, nullptr, &report);
    ASSERT_TRUE(log);
    EXPECT_EQ(report.records, 3u);
    EXPECT_EQ(log->records(), 3u);
    append_records(*log, 3, 2);
  }
  EXPECT_EQ(replay(path).payloads, payloads(5));
}

TEST(record_log, a_torn_last_record_is_moved_aside_and_appends_continue) {
  temp_folder dir;
  const auto path = written_log(dir, 5);
  // What a kill -9 in the middle of the fifth write leaves: its frame cut short.
  const auto full = read_bytes(path);
  const auto torn = full.substr(0, full.size() - 7);
  write_bytes(path, torn);
  const uint64_t offset = offset_of(4);
  const auto moved = path + ".damaged-" + std::to_string(offset);

  std::vector<std::string> seen;
  recovery_report report;
  {
    auto log = record_log::open(
        path, {}, [&](std::string_view p) { seen.emplace_back(p); }, &report);
    ASSERT_TRUE(log) << context_of(log.error());
    EXPECT_EQ(seen, payloads(4));
    EXPECT_EQ(report.records, 4u);
    EXPECT_EQ(report.damaged_offset, offset);
    EXPECT_EQ(report.dropped_bytes, torn.size() - offset);
    EXPECT_EQ(report.moved_to, moved);
    EXPECT_EQ(report.warning, path + ": record at byte " + std::to_string(offset) +
                                  " is torn or damaged (torn payload); " +
                                  std::to_string(torn.size() - offset) + " bytes moved to " +
                                  moved + "; the log continues after record 4");
    EXPECT_EQ(fs::file_size(path), offset) << "cut back to the last good record";
    EXPECT_EQ(log->records(), 4u);
    EXPECT_EQ(*log->append("after the crash"), 4u);
  }
  EXPECT_EQ(read_bytes(moved), torn.substr(offset)) << "the torn bytes are kept, not deleted";
  auto expected = payloads(4);
  expected.push_back("after the crash");
  const auto again = replay(path);
  EXPECT_EQ(again.payloads, expected);
  EXPECT_EQ(again.report.warning, "") << "recovery leaves an intact log";
}

TEST(record_log, a_torn_header_is_caught) {
  temp_folder dir;
  const auto path = written_log(dir, 3);
  write_bytes(path, read_bytes(path).substr(0, offset_of(2) + 5));
  const auto again = replay(path);
  EXPECT_EQ(again.payloads, payloads(2));
  EXPECT_EQ(again.report.dropped_bytes, 5u);
  EXPECT_NE(again.report.warning.find("(torn header)"), std::string::npos) << again.report.warning;
}

TEST(record_log, a_flipped_byte_is_caught_by_the_checksum_and_later_records_kept_aside) {
  temp_folder dir;
  const auto path = written_log(dir, 5);
  auto bytes = read_bytes(path);
  const uint64_t offset = offset_of(2);
  bytes[offset + record_log::header_size + 3] ^= 0x20; // inside record 2's payload
  write_bytes(path, bytes);

  const auto again = replay(path);
  EXPECT_EQ(again.payloads, payloads(2));
  EXPECT_EQ(again.report.damaged_offset, offset);
  EXPECT_EQ(again.report.dropped_bytes, bytes.size() - offset);
  EXPECT_NE(again.report.warning.find("(checksum mismatch)"), std::string::npos)
      << again.report.warning;
  // Records 3 and 4 were intact: they are in the moved file, byte for byte, for a person to
  // salvage.
  EXPECT_EQ(read_bytes(again.report.moved_to), bytes.substr(offset));
  EXPECT_EQ(fs::file_size(path), offset);
}

TEST(record_log, bad_magic_and_impossible_lengths_are_damage) {
  temp_folder dir;
  const auto path = written_log(dir, 2);
  const auto good = read_bytes(path);
  // Zeros are what some file systems leave after a crash in blocks not yet written.
  write_bytes(path, good + std::string(40, '\0'));
  auto again = replay(path);
  EXPECT_EQ(again.payloads, payloads(2));
  EXPECT_NE(again.report.warning.find("(bad magic)"), std::string::npos) << again.report.warning;

  std::string huge(record_log::header_size, '\0');
  const uint32_t magic = record_log::magic, length = 0xFFFFFFF0u;
  std::memcpy(huge.data(), &magic, 4);
  std::memcpy(huge.data() + 4, &length, 4);
  write_bytes(path, good + huge);
  again = replay(path);
  EXPECT_EQ(again.payloads, payloads(2));
  EXPECT_NE(again.report.warning.find("(impossible length 4294967280)"), std::string::npos)
      << again.report.warning;
}

TEST(record_log, a_second_recovery_at_the_same_offset_does_not_overwrite_the_first) {
  temp_folder dir;
  const auto path = written_log(dir, 2);
  const auto good = read_bytes(path);
  write_bytes(path, good + "first tail");
  const auto first = replay(path).report;
  write_bytes(path, good + "second tail");
  const auto second = replay(path).report;
  EXPECT_EQ(first.moved_to, path + ".damaged-" + std::to_string(good.size()));
  EXPECT_EQ(second.moved_to, first.moved_to + ".1");
  EXPECT_EQ(read_bytes(first.moved_to), "first tail");
  EXPECT_EQ(read_bytes(second.moved_to), "second tail");
}

TEST(record_log, moving_keeps_the_numbering_and_the_file) {
  temp_folder dir;
  const auto path = dir / "f.log";
  auto log = record_log::open(path, {}, nullptr);
  ASSERT_TRUE(log);
  append_records(*log, 0, 2);
  record_log moved = std::move(*log);
  EXPECT_EQ(*moved.append(payload(2)), 2u);
  EXPECT_EQ(moved.path(), path);
}

} // namespace
