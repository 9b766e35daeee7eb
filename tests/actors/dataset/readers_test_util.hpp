// Helpers shared by the reader tests: a temporary folder per test that removes itself, and a
// call that runs a reader and collects what it emitted and what it quarantined.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "dataset/readers/reader.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset::testing {

/// A fresh folder under the system temp folder, removed with everything in it at the end.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("llmos_readers_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
             (info != nullptr ? info->name() : "x"));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Writes `bytes` to `relative` (creating folders) and returns the full path.
  std::string write(const std::string& relative, const std::string& bytes) const {
    auto p = path_ / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out{p, std::ios::binary};
    out << bytes;
    return p.string();
  }

  std::string str() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

/// What one read produced.
struct read_result {
  bool ok = false;
  uint64_t count = 0;
  std::string error; ///< describe() of the error when !ok
  std::vector<record> records;
  quarantine q;

  /// The quarantine entries of the source's rule, in order (at most the first five).
  std::vector<quarantine_entry> refused(const std::string& rule) const {
    auto it = q.examples().find(rule);
    return it == q.examples().end() ? std::vector<quarantine_entry>{} : it->second;
  }
  uint64_t refused_count(const std::string& rule) const {
    auto it = q.counts().find(rule);
    return it == q.counts().end() ? 0 : it->second;
  }
};

/// Runs read_source on `spec` and collects everything.
inline read_result read_all(const source_spec& spec) {
  read_result out;
  auto n = read_source(spec, out.q, [&](record&& r) { out.records.push_back(std::move(r)); });
  if (n) {
    out.ok = true;
    out.count = *n;
  } else {
    out.error = describe(n.error());
  }
  return out;
}

} // namespace llmos::dataset::testing
