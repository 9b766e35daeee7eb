#include "dataset/augment/image_augment.hpp"

#include <algorithm>

namespace llmos::dataset {
namespace {

bool well_formed(const std::string& pixels, uint32_t rows, uint32_t cols) {
  return pixels.size() == static_cast<uint64_t>(rows) * cols;
}

} // namespace

std::string flip_horizontal(const std::string& pixels, uint32_t rows, uint32_t cols) {
  if (!well_formed(pixels, rows, cols))
    return pixels;
  std::string out = pixels;
  for (uint64_t r = 0; r < rows; ++r) {
    auto row = out.begin() + static_cast<std::ptrdiff_t>(r * cols);
    std::reverse(row, row + cols);
  }
  return out;
}

std::string shift_image(const std::string& pixels, uint32_t rows, uint32_t cols, int32_t dx,
                        int32_t dy) {
  if (!well_formed(pixels, rows, cols))
    return pixels;
  std::string out(pixels.size(), '\0');
  const int64_t h = rows;
  const int64_t w = cols;
  for (int64_t r = 0; r < h; ++r) {
    const int64_t src_r = r - dy;
    if (src_r < 0 || src_r >= h)
      continue;
    for (int64_t c = 0; c < w; ++c) {
      const int64_t src_c = c - dx;
      if (src_c >= 0 && src_c < w)
        out[static_cast<std::size_t>(r * w + c)] =
            pixels[static_cast<std::size_t>(src_r * w + src_c)];
    }
  }
  return out;
}

} // namespace llmos::dataset
