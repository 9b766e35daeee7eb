#include "dataset/readers/idx_reader.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>

#include <zlib.h>

#include "dataset/readers/reader_options.hpp"

namespace llmos::dataset {
namespace {

constexpr uint32_t images_magic = 0x00000803;
constexpr uint32_t labels_magic = 0x00000801;
/// Far above any real image set (4096x4096 grey); a larger header is a corrupt file, and
/// trusting it would allocate gigabytes before the read fails.
constexpr uint64_t max_pixels = uint64_t{1} << 24;

struct gz_closer {
  void operator()(gzFile f) const { gzclose(f); }
};
using gz_ptr = std::unique_ptr<gzFile_s, gz_closer>;

/// One open IDX file with its name for messages.
struct idx_file {
  std::string path;
  gz_ptr file;

  /// Reads exactly `n` bytes; false on a short read or a zlib error.
  bool read(void* out, std::size_t n) {
    auto* dst = static_cast<unsigned char*>(out);
    while (n > 0) {
      // gzread takes an unsigned count; large images are read in pieces.
      const auto piece = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
      const int got = gzread(file.get(), dst, piece);
      if (got <= 0)
        return false;
      dst += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

  /// zlib's description of the last failure (e.g. "unexpected end of file"), or "".
  std::string zlib_error() {
    int code = Z_OK;
    const char* msg = gzerror(file.get(), &code);
    return code == Z_OK || msg == nullptr ? std::string{} : std::string{"; zlib: "} + msg;
  }
};

uint32_t big_endian(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex(uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4)
    out += digits[(v >> shift) & 0xF];
  return out;
}

caf::expected<idx_file> open_idx(const source_spec& spec, const std::string& key) {
  auto value = find_option(spec, key);
  if (!value || value->empty())
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option '" + key + "' is missing; set it to the " + key +
                            " file (e.g. t10k-" + key + "-idx" + (key == "images" ? "3" : "1") +
                            "-ubyte.gz)");
  std::filesystem::path p{*value};
  if (p.is_relative() && !spec.path.empty())
    p = std::filesystem::path{spec.path} / p;
  idx_file f{p.string(), gz_ptr{gzopen(p.string().c_str(), "rb")}};
  if (!f.file)
    return reader_error(error_code::io_failed, spec, f.path,
                        "option '" + key +
                            "': cannot open the file; check that it exists and is readable");
  return f;
}

/// Checks the magic number, then reads the `count` header words after it.
caf::error read_header(const source_spec& spec, idx_file& f, uint32_t magic, const char* what,
                       uint32_t* words, std::size_t count) {
  auto truncated = [&] {
    return reader_error(error_code::io_failed, spec, f.path,
                        std::string{"truncated header of the "} + what + " file" + f.zlib_error() +
                            "; download the file again");
  };
  std::array<unsigned char, 4> buf{};
  // The magic number alone first: a swapped, shorter labels file should say "wrong magic".
  if (!f.read(buf.data(), buf.size()))
    return truncated();
  const uint32_t found = big_endian(buf.data());
  if (found != magic)
    return reader_error(error_code::bad_config, spec, f.path,
                        "magic number " + hex(found) + " is not " + hex(magic) + " (IDX " + what +
                            "); check that the images and labels options name the right files");
  for (std::size_t i = 0; i < count; ++i) {
    if (!f.read(buf.data(), buf.size()))
      return truncated();
    words[i] = big_endian(buf.data());
  }
  return {};
}

} // namespace

caf::expected<uint64_t> read_idx(const source_spec& spec, quarantine&, const emit_fn& emit) {
  auto limit = checked_record_limit(spec, {"images", "labels"});
  if (!limit)
    return limit.error();
  auto images = open_idx(spec, "images");
  if (!images)
    return images.error();
  auto labels = open_idx(spec, "labels");
  if (!labels)
    return labels.error();
  uint32_t dims[3] = {};
  if (auto err = read_header(spec, *images, images_magic, "images", dims, 3))
    return err;
  uint32_t label_count = 0;
  if (auto err = read_header(spec, *labels, labels_magic, "labels", &label_count, 1))
    return err;
  const uint32_t count = dims[0];
  const uint32_t rows = dims[1];
  const uint32_t cols = dims[2];
  if (rows == 0 || cols == 0 || uint64_t{rows} * cols > max_pixels)
    return reader_error(error_code::bad_config, spec, images->path,
                        "image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                            " is not plausible; the header is corrupt, download the file again");
  if (count != label_count)
    return reader_error(error_code::bad_config, spec, images->path + " and " + labels->path,
                        std::to_string(count) + " images but " + std::to_string(label_count) +
                            " labels; use the labels file that belongs to these images");
  const uint64_t n = *limit == 0 ? count : std::min<uint64_t>(*limit, count);
  const std::size_t pixels = std::size_t{rows} * cols;
  for (uint64_t i = 0; i < n; ++i) {
    record r;
    r.image.resize(pixels);
    if (!images->read(r.image.data(), pixels))
      return reader_error(error_code::io_failed, spec, images->path,
                          "truncated at image index " + std::to_string(i) + " of " +
                              std::to_string(count) + images->zlib_error() +
                              "; download the file again");
    unsigned char label = 0;
    if (!labels->read(&label, 1))
      return reader_error(error_code::io_failed, spec, labels->path,
                          "truncated at label index " + std::to_string(i) + " of " +
                              std::to_string(count) + labels->zlib_error() +
                              "; download the file again");
    r.rows = rows;
    r.cols = cols;
    r.label = std::to_string(label);
    r.id = spec.name + "#" + std::to_string(i);
    r.origin = source_location{spec.name, images->path, 0, i};
    emit(std::move(r));
  }
  return n;
}

} // namespace llmos::dataset
