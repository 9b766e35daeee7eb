#include "model/checkpoint_bytes.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "llmos/messages/error.hpp"

namespace llmos::model {

caf::expected<std::string> checkpoint_bytes(const engine& e) {
  static std::atomic<uint64_t> counter{0};
  const auto path =
      std::filesystem::temp_directory_path() / ("llmos-export-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(counter.fetch_add(1)) + ".pt");
  if (auto err = e.save(path.string()))
    return err;
  std::ifstream in{path, std::ios::binary};
  std::ostringstream bytes;
  bytes << in.rdbuf();
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!in)
    return make_llmos_error(error_code::io_failed, "export: cannot read back " + path.string());
  return std::move(bytes).str();
}

} // namespace llmos::model
