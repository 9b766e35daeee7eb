// Shared by the feedback unit tests: a fresh folder per test (the one every component's tests
// use), whole-file reads and writes, and the text of an error without its code.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <caf/error.hpp>
#include <gtest/gtest.h>

#include "../../temp_folder.hpp"

namespace llmos::feedback::testing {

/// The folder a test writes its files in (tests/temp_folder.hpp).
using test::temp_folder;

/// The whole file at `path` ("" when missing).
inline std::string read_bytes(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replaces the file at `path` with `bytes`.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
}

/// The message an error carries (what make_llmos_error stored), without the code's name.
inline std::string context_of(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : std::string{};
}

} // namespace llmos::feedback::testing
