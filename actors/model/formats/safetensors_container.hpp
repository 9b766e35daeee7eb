// The safetensors container below any model: an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and data_offsets (relative to the end of the header),
// then the raw little-endian data. The header reader checks every offset against the file's
// size and against shape x dtype size before anything is read, so a damaged or hostile file is
// refused with its path and the tensor's name, never read out of bounds. Tensors are read one at
// a time (a 7B model does not need twice its size in memory).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model {

/// One tensor of a safetensors header; begin and end are absolute offsets into the file.
struct safetensors_entry {
  std::string dtype; ///< "F32", "F16", "BF16", "I64", ... (every safetensors dtype is parsed)
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A parsed and bounds-checked safetensors header.
struct safetensors_header {
  std::string path;
  std::map<std::string, safetensors_entry> tensors; ///< by name ("__metadata__" excluded)
};

/// The header cap: the reference implementation refuses headers over 100 MB as well.
inline constexpr uint64_t safetensors_max_header = 100'000'000;

/// Reads and checks the header of the file at `path`; bad_config "PATH: what" or
/// "PATH: tensor 'NAME': what", io_failed when the file cannot be opened.
caf::expected<safetensors_header> read_safetensors_header(const std::string& path);

/// Reads tensor `name` of `h` as float32; F32, F16 and BF16 are converted, other dtypes are
/// refused naming the tensor and its dtype.
caf::expected<std::vector<float>> read_safetensors_f32(const safetensors_header& h,
                                                       const std::string& name);

/// A float32 tensor to write, borrowed from its owner.
struct safetensors_f32_view {
  std::string name;
  std::vector<int64_t> shape;
  std::span<const float> data;
};

/// Writes `tensors` in this order as F32 to `path`, atomically (a temporary file renamed over
/// it). The header is padded with spaces to a multiple of 8, as the reference writer does, so
/// the data stays aligned; `__metadata__` says format "pt" as transformers writes it.
caf::error write_safetensors_f32(const std::string& path,
                                 const std::vector<safetensors_f32_view>& tensors);

} // namespace llmos::model
