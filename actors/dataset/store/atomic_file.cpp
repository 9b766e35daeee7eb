#include "dataset/store/atomic_file.hpp"

namespace llmos::data {

caf::expected<void> write_file_atomically(const std::filesystem::path& path,
                                          std::string_view bytes) {
  auto tmp = path;
  tmp += tmp_suffix;
  return replace_file_atomically(path, tmp, bytes);
}

} // namespace llmos::data
