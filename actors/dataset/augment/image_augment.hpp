// Image augmentation for grey images stored row-major as one uint8 per pixel (record.image,
// rows × cols): horizontal flips and shifts by a few pixels with zero fill, the two cheap
// transformations that keep a Fashion-MNIST garment a garment. Pure functions: pixels in,
// pixels out.
#pragma once

#include <cstdint>
#include <string>

namespace llmos::dataset {

/// Mirrors every row: pixel (r, c) takes (r, cols - 1 - c). Input of the wrong size
/// (pixels.size() != rows × cols) comes back unchanged.
std::string flip_horizontal(const std::string& pixels, uint32_t rows, uint32_t cols);

/// Moves the picture dx pixels right and dy pixels down (negative: left, up); pixels moved in
/// from outside are 0. Input of the wrong size comes back unchanged.
std::string shift_image(const std::string& pixels, uint32_t rows, uint32_t cols, int32_t dx,
                        int32_t dy);

} // namespace llmos::dataset
