// A fresh folder for one test under the system's temp folder, removed with everything in it at
// the end. The name holds the process id and a counter, so test processes running in parallel
// and two folders of one test never meet, and a tag (the running test's name unless given) so
// that a folder left behind by a crash says whose it was. Shared by the component tests (a few keep
// folders of their own).
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace llmos::test {

class temp_folder {
public:
  /// A new, empty folder named after `tag`, or after the running test when `tag` is empty.
  explicit temp_folder(const std::string& tag = {}) {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string name = !tag.empty() ? tag : info != nullptr ? info->name() : "x";
    path_ = std::filesystem::temp_directory_path() /
            ("llmos_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  /// `name` inside the folder, as a string.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

  /// Writes `bytes` to `relative` (creating its folders) and returns the full path.
  std::string write(const std::string& relative, const std::string& bytes) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out << bytes;
    return file.string();
  }

private:
  std::filesystem::path path_;
};

} // namespace llmos::test
