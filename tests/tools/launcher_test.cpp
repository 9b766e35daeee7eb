// The launcher's supervision driven with /bin/sh children: per-line prefixes, partial lines,
// orderly stop, SIGKILL after the grace period, and a child that dies on its own while the
// others keep running.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "../temp_folder.hpp"
#include "launcher.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

llmos::launch_child shell(std::string name, std::string script) {
  return {std::move(name), {"/bin/sh", "-c", std::move(script)}};
}

// Waits up to 10 s for a child's marker file.
void wait_for(const std::string& file) {
  for (int i = 0; i < 1000 && !fs::exists(file); ++i)
    std::this_thread::sleep_for(10ms);
}

// A fresh folder for marker files, so a test can wait until a child is really set up (its
// traps installed) before it asks for a stop.
class launcher_test : public testing::Test {
protected:
  std::string marker(const std::string& name) const { return dir_ / name; }

  // Runs the started `launcher` until it stops, asking for the stop from another thread once
  // `file` exists, as a signal handler would; run_until_stopped's exit status.
  static int run_stopping_once_exists(llmos::launcher& launcher, const std::string& file) {
    std::thread stopper{[&launcher, file] {
      wait_for(file);
      launcher.request_stop();
    }};
    const int rc = launcher.run_until_stopped();
    stopper.join();
    return rc;
  }

  llmos::test::temp_folder dir_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream is{text};
  for (std::string line; std::getline(is, line);)
    lines.push_back(line);
  return lines;
}

TEST_F(launcher_test, prefixes_every_line_with_the_child_name) {
  std::ostringstream out, err;
  llmos::launcher launcher{{shell("alpha", "printf 'one\\ntwo\\n'; printf 'oops\\n' >&2"),
                            shell("beta", "printf 'three\\n'")},
                           out,
                           err};
  ASSERT_FALSE(launcher.start());
  // Every child left on its own and nobody asked for a stop: that is a failure.
  EXPECT_EQ(launcher.run_until_stopped(), 1);
  auto lines = lines_of(out.str());
  std::vector<std::string> alpha;
  for (auto& line : lines)
    if (line.rfind("[alpha] ", 0) == 0)
      alpha.push_back(line);
  EXPECT_EQ(alpha, (std::vector<std::string>{"[alpha] one", "[alpha] two"}));
  EXPECT_NE(out.str().find("[beta] three\n"), std::string::npos);
  EXPECT_NE(err.str().find("[alpha] oops\n"), std::string::npos);
  EXPECT_EQ(out.str().find("oops"), std::string::npos);
  EXPECT_NE(err.str().find("[launch] node alpha exited with status 0\n"), std::string::npos);
  EXPECT_NE(err.str().find("[launch] node beta exited with status 0\n"), std::string::npos);
}

TEST_F(launcher_test, reassembles_lines_written_in_pieces_without_interleaving) {
  // Each line goes out in two writes; with two writers the pieces arrive interleaved in time,
  // but the relayed lines must still be whole.
  auto script = [](const std::string& tag) {
    return "i=0; while [ $i -lt 200 ]; do i=$((i+1)); printf '" + tag +
           "-'; printf '%s\\n' $i; done";
  };
  std::ostringstream out, err;
  llmos::launcher launcher{{shell("a", script("left")), shell("b", script("right"))}, out, err};
  ASSERT_FALSE(launcher.start());
  launcher.run_until_stopped();
  std::regex whole{R"(\[(a)\] left-(\d+)|\[(b)\] right-(\d+))"};
  int next_a = 1, next_b = 1;
  for (auto& line : lines_of(out.str())) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, whole)) << "torn line: " << line;
    if (m[1].matched)
      EXPECT_EQ(std::stoi(m[2]), next_a++);
    else
      EXPECT_EQ(std::stoi(m[4]), next_b++);
  }
  EXPECT_EQ(next_a, 201);
  EXPECT_EQ(next_b, 201);
}

TEST_F(launcher_test, flushes_a_partial_line_when_the_child_exits) {
  std::ostringstream out, err;
  llmos::launcher launcher{{shell("a", "printf 'first\\nno newline'")}, out, err};
  ASSERT_FALSE(launcher.start());
  launcher.run_until_stopped();
  EXPECT_EQ(out.str(), "[a] first\n[a] no newline\n");
  // The last words come before the report of the exit.
  EXPECT_LT(err.str().find("[launch] node a exited"), std::string::npos);
}

TEST_F(launcher_test, request_stop_terminates_children_and_exits_zero) {
  std::ostringstream out, err;
  auto ready_a = marker("a"), ready_b = marker("b");
  llmos::launcher launcher{{shell("a", "touch " + ready_a + "; sleep 30"),
                            shell("b", "trap 'echo bye; exit 0' TERM; touch " + ready_b +
                                           "; while :; do sleep 0.05; done")},
                           out,
                           err,
                           300ms};
  ASSERT_FALSE(launcher.start());
  wait_for(ready_a);
  auto begin = std::chrono::steady_clock::now();
  int rc = run_stopping_once_exists(launcher, ready_b);
  auto elapsed = std::chrono::steady_clock::now() - begin;
  // A (killed by the SIGTERM we sent) and b (exit 0 from its trap) both count as clean.
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_LT(elapsed, 5s);
  EXPECT_NE(out.str().find("[b] bye\n"), std::string::npos);
  EXPECT_NE(err.str().find("[launch] node b exited with status 0\n"), std::string::npos);
  EXPECT_EQ(err.str().find("SIGKILL\n"), std::string::npos) << err.str();
}

TEST_F(launcher_test, a_child_that_ignores_sigterm_is_killed_after_the_grace_period) {
  std::ostringstream out, err;
  auto ready = marker("stubborn");
  llmos::launcher launcher{
      {shell("stubborn", "trap '' TERM; touch " + ready + "; while :; do sleep 0.05; done")},
      out,
      err,
      300ms};
  ASSERT_FALSE(launcher.start());
  EXPECT_NE(run_stopping_once_exists(launcher, ready), 0);
  EXPECT_NE(err.str().find("[launch] node stubborn did not stop within 300 ms; sending SIGKILL"),
            std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("[launch] node stubborn exited with status 137 (killed by signal 9"),
            std::string::npos)
      << err.str();
}

TEST_F(launcher_test, grace_period_is_honoured_before_sigkill) {
  std::ostringstream out, err;
  auto ready = marker("slow");
  // Takes ~100 ms to shut down, well inside a 2 s grace period, so it must not be killed.
  llmos::launcher launcher{{shell("slow", "trap 'sleep 0.1; exit 0' TERM; touch " + ready +
                                              "; while :; do sleep 0.05; done")},
                           out,
                           err,
                           2000ms};
  ASSERT_FALSE(launcher.start());
  EXPECT_EQ(run_stopping_once_exists(launcher, ready), 0) << err.str();
}

TEST_F(launcher_test, a_child_that_dies_is_reported_and_the_others_keep_running) {
  std::ostringstream out;
  auto ready = marker("survivor");
  auto lost = marker("lost");
  // The survivor waits until the lost child is gone, then proves it is still alive.
  llmos::launcher launcher{
      {shell("lost", "echo going; touch " + lost + "; exit 3"),
       shell("survivor", "while [ ! -e " + lost + " ]; do sleep 0.02; done; sleep 0.3; " +
                             "echo still-here; touch " + ready + "; sleep 30")},
      out,
      out,
      300ms};
  ASSERT_FALSE(launcher.start());
  int rc = run_stopping_once_exists(launcher, ready);
  auto text = out.str();
  auto reported = text.find("[launch] node lost exited with status 3\n");
  auto alive = text.find("[survivor] still-here\n");
  ASSERT_NE(reported, std::string::npos) << text;
  ASSERT_NE(alive, std::string::npos) << text;
  EXPECT_LT(reported, alive) << text;
  EXPECT_NE(text.find("[launch] node survivor exited"), std::string::npos) << text;
  // A node was lost along the way, so the run as a whole did not end cleanly.
  EXPECT_NE(rc, 0);
}

TEST_F(launcher_test, stop_on_signals_turns_sigterm_into_an_orderly_stop) {
  std::ostringstream out, err;
  auto ready = marker("a");
  llmos::launcher launcher{{shell("a", "touch " + ready + "; sleep 30")}, out, err, 300ms};
  launcher.stop_on_signals();
  ASSERT_FALSE(launcher.start());
  std::thread signaller{[&] {
    wait_for(ready);
    ::kill(::getpid(), SIGTERM);
  }};
  EXPECT_EQ(launcher.run_until_stopped(), 0) << err.str();
  signaller.join();
}

TEST_F(launcher_test, start_reports_a_program_that_cannot_run) {
  std::ostringstream out, err;
  auto ready = marker("first");
  llmos::launcher launcher{
      {shell("first", "touch " + ready + "; sleep 30"), {"second", {"/nonexistent/llmos-node"}}},
      out,
      err,
      300ms};
  auto failure = launcher.start();
  ASSERT_TRUE(failure);
  EXPECT_NE(failure->find("cannot start node second: /nonexistent/llmos-node: No such file"),
            std::string::npos)
      << *failure;
  // The node that did start was stopped again rather than left behind.
  EXPECT_NE(err.str().find("[launch] node first exited"), std::string::npos) << err.str();
}

} // namespace
