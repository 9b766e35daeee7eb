// The feedback log under a real crash: a child process appends and acknowledges each record
// through a pipe only after append returned; the parent kills it with SIGKILL mid-stream and
// reopens the log. Every acknowledged record must be there, intact and in order (with
// every_record and small records, and with no fsync and large records). Also: one writer at a
// time.
#include <cstdint>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "feedback/core/record_log.hpp"
#include "llmos/messages/error.hpp"
#include "test_support.hpp"

using namespace llmos::feedback;
using llmos::feedback::testing::context_of;
using llmos::feedback::testing::temp_folder;

namespace {

/// Record n: verifiable from its number alone, lengths varied so a kill can tear any size.
std::string small_payload(uint64_t n) {
  return "record-" + std::to_string(n) + "-" +
         std::string((n * 7919) % 997, static_cast<char>('a' + n % 26));
}

/// Record n of 256 KiB to 2 MiB, so that records span many pages and a kill has a long write
/// to land in.
std::string large_payload(uint64_t n) {
  return "record-" + std::to_string(n) + "-" +
         std::string((1 + (n * 7919) % 8) << 18, static_cast<char>('a' + n % 26));
}

using payload_fn = std::string (*)(uint64_t);

/// Reads one acknowledgement (a sequence number); false at the end of the pipe.
bool read_ack(int fd, uint64_t& n) {
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&n);
  while (got < sizeof n) {
    const auto r = ::read(fd, bytes + got, sizeof n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

[[noreturn]] void child_appends(const std::string& path, fsync_policy policy, payload_fn payload,
                                uint64_t limit, int ack_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto log = record_log::open(path, {policy, 64}, nullptr);
  if (!log)
    ::_exit(2);
  const uint64_t base = log->records();
  // Bounded, so a parent that never kills does not fill the disk; then it waits to be killed.
  for (uint64_t n = 0; n < limit; ++n) {
    auto seq = log->append(payload(n));
    if (!seq || *seq != base + n)
      ::_exit(3);
    if (::write(ack_fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n))
      ::_exit(4);
  }
  for (;;)
    ::pause();
}

// Kills and reaps the child on every exit path, so a failed assertion leaves no writer behind.
struct child_guard {
  pid_t pid = -1;
  ~child_guard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

/// Rounds of: a child appends payload(0), payload(1)... to the log at `path` and acknowledges
/// each; after kill_after[round] acknowledgements it is killed; the log is reopened and every
/// acknowledged record must be there, in order, after the records of earlier rounds.
void crash_rounds(const std::string& path, fsync_policy policy, payload_fn payload, uint64_t limit,
                  const std::vector<uint64_t>& kill_after_round) {
  for (std::size_t round = 0; round < kill_after_round.size(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    uint64_t before = 0; // records left by earlier rounds
    {
      recovery_report report;
      auto log = record_log::open(path, {}, nullptr, &report);
      ASSERT_TRUE(log);
      before = log->records();
    }
    int ack[2];
    ASSERT_EQ(::pipe(ack), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(ack[0]);
      child_appends(path, policy, payload, limit, ack[1]);
    }
    child_guard guard{child};
    ::close(ack[1]);
    const uint64_t kill_after = kill_after_round[round];
    uint64_t acked = 0, last = 0;
    bool any = false;
    while (acked < kill_after && read_ack(ack[0], last)) {
      any = true;
      ++acked;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    guard.pid = -1;
    // Acknowledgements written before the kill but not yet read count too.
    while (read_ack(ack[0], last)) {
      any = true;
      ++acked;
    }
    ::close(ack[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child failed by itself, exit status " << WEXITSTATUS(status);
    ASSERT_TRUE(any);
    ASSERT_GE(acked, kill_after);
    EXPECT_EQ(last, acked - 1) << "acknowledgements are the sequence numbers in order";

    std::vector<std::string> seen;
    recovery_report report;
    auto log = record_log::open(
        path, {}, [&](std::string_view p) { seen.emplace_back(p); }, &report);
    ASSERT_TRUE(log) << context_of(log.error());
    ASSERT_GE(seen.size(), before + acked) << report.warning;
    // This round's records follow the earlier rounds' (the child writes payload(n) with n from
    // 0 each round; its sequence numbers start at `before`).
    for (uint64_t n = 0; n < acked; ++n)
      ASSERT_TRUE(seen[before + n] == payload(n))
          << "acknowledged record " << n << " of this round";
    EXPECT_EQ(log->records(), seen.size());
  }
}

TEST(record_log_crash, every_acknowledged_record_survives_kill_9) {
  temp_folder dir;
  // Killed at a different point each round, while the child is busy appending.
  crash_rounds(dir / "feedback.log", fsync_policy::every_record, small_payload, 20'000,
               {40, 110, 180});
}

TEST(record_log_crash, large_records_without_fsync_survive_kill_9) {
  temp_folder dir;
  // With policy none an acknowledged record is only in the page cache, which outlives the
  // process (not a power loss): what the policy promises.
  crash_rounds(dir / "feedback.log", fsync_policy::none, large_payload, 24, {2, 3, 4, 5, 6});
}

TEST(record_log_crash, a_second_writer_is_refused_while_one_owns_the_log) {
  temp_folder dir;
  const auto path = dir / "f.log";
  {
    auto first = record_log::open(path, {}, nullptr);
    ASSERT_TRUE(first);
    auto second = record_log::open(path, {}, nullptr);
    ASSERT_FALSE(second);
    EXPECT_EQ(context_of(second.error()),
              "the feedback log '" + path +
                  "' is already open (in another process or another log object); only one "
                  "writer may own it");
  }
  EXPECT_TRUE(record_log::open(path, {}, nullptr)) << "closing the first releases the log";
}

} // namespace
