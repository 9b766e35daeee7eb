// The one entry point every llmos fuzz target defines (libFuzzer's). Built with clang and
// -fsanitize=fuzzer (tools/fuzz/run.sh, `make fuzz`) libFuzzer drives it; in the ordinary build
// replay_main.cpp drives it over the checked-in corpus, so every seed and every crash ever found
// stays a test. A target returns 0 for every input: a crash, a sanitizer report or an escaping
// exception is the finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace llmos::fuzz {

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

} // namespace llmos::fuzz
