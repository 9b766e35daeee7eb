// The one entry point every llmos fuzz target defines (libFuzzer's). Built with clang and
// -fsanitize=fuzzer (tools/fuzz/run.sh, `make fuzz`) libFuzzer drives it; in the ordinary build
// replay_main.cpp drives it over the checked-in corpus, so every seed and every crash ever found
// stays a test. A target returns 0 for every input: a crash, a sanitizer report or an escaping
// exception is the finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace llmos::fuzz {

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// A folder of this process for targets whose readers take files (libFuzzer may run several
/// processes side by side).
inline const std::filesystem::path& scratch_dir() {
  static const auto dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("llmos-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/// Writes `bytes` to `path` (replacing it) and answers the path.
inline std::string write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

} // namespace llmos::fuzz
