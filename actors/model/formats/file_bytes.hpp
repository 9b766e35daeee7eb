// Reading a whole (small) model-side file into memory with the refusal every format reader here
// gives (config.json, tokenizer.json, tokenizer.bin, tokenizer.model): the path named, io_failed.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <caf/expected.hpp>

#include "llmos/messages/error.hpp"

namespace llmos::model {

/// The bytes of the file at `path`: io_failed "PATH: cannot be opened for reading" or
/// "PATH: read failed".
inline caf::expected<std::string> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_llmos_error(error_code::io_failed, path + ": cannot be opened for reading");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad())
    return make_llmos_error(error_code::io_failed, path + ": read failed");
  return bytes.str();
}

} // namespace llmos::model
