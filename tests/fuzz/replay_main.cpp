// Replays inputs through a fuzz target without libFuzzer (the ordinary gcc build): every file
// named, or found in a folder named, goes through LLVMFuzzerTestOneInput once. An exception that
// escapes the target fails the run and names the input; a crash ends it with the input's name
// already printed. This is how the corpus and past crashes stay tests in `make test`.
#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "fuzz_target.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg{argv[i]};
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg))
        if (entry.is_regular_file())
          inputs.push_back(entry.path());
    } else {
      inputs.push_back(arg);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::cerr << "replay: no inputs (give files or folders)\n";
    return 2;
  }
  for (const auto& path : inputs) {
    std::ifstream in{path, std::ios::binary};
    if (!in) {
      std::cerr << "replay: cannot read " << path << "\n";
      return 2;
    }
    std::vector<char> bytes{std::istreambuf_iterator<char>{in}, {}};
    std::cerr << "replay: " << path.string() << " (" << bytes.size() << " bytes)\n";
    try {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::cerr << "replay: " << path << ": exception escaped: " << e.what() << "\n";
      return 1;
    } catch (...) {
      std::cerr << "replay: " << path << ": exception escaped\n";
      return 1;
    }
  }
  std::cout << "replay: " << inputs.size() << " inputs, no failure\n";
  return 0;
}
