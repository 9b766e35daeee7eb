// GGUF's on-disk vocabulary shared by the reader and the writer (magic, value and tensor type
// numbers), a bounds-checked read cursor, and the metadata table. Parsing walks every value,
// nested arrays included, and keeps only where each one lies; the typed getters then convert
// on demand. Because the walk has already proved every value lies inside the file, a hostile
// count costs at most one pass over the file, never an allocation it did not pay for in bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace llmos::model::gguf {

inline constexpr char magic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t version = 3;
inline constexpr uint32_t default_alignment = 32;
/// ggml's largest tensor rank.
inline constexpr uint32_t max_dims = 4;

/// Metadata value types, numbered as GGUF numbers them.
enum class value_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

/// ggml tensor type numbers that llmos reads or writes.
inline constexpr uint32_t type_f32 = 0;
inline constexpr uint32_t type_f16 = 1;
inline constexpr uint32_t type_q8_0 = 8;
inline constexpr uint32_t type_bf16 = 30;
/// Q8_0 packs 32 values as an f16 scale then 32 int8.
inline constexpr uint64_t q8_0_block = 32;
inline constexpr uint64_t q8_0_block_bytes = 34;

/// ggml's name of tensor type `type` ("Q4_K"), or "" when unknown.
std::string_view ggml_type_name(uint32_t type);

/// A little-endian read position in a file's bytes that refuses, rather than reads, past the end.
class byte_cursor {
public:
  explicit byte_cursor(std::string_view bytes, uint64_t pos = 0) : bytes_(bytes), pos_(pos) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  /// Moves `n` bytes on; false (and no move) past the end.
  bool skip(uint64_t n) {
    if (n > remaining())
      return false;
    pos_ += n;
    return true;
  }

  /// Reads a scalar; the host is little-endian like the format (static_assert in the .cpp).
  template <class T> bool read(T& out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (sizeof(T) > remaining())
      return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  /// Reads a GGUF string (uint64 length, then the bytes) as a view into the file.
  bool read_string(std::string_view& out) {
    uint64_t n = 0;
    const auto start = pos_;
    if (!read(n) || n > remaining()) {
      pos_ = start;
      return false;
    }
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }

private:
  std::string_view bytes_;
  uint64_t pos_;
};

/// The key/value metadata of one GGUF file. Getters refuse with bad_config
/// "WHERE: key 'KEY': what" (missing, wrong type, out of range).
class metadata {
public:
  /// Walks `count` key/value pairs from `in`; bad_config names the key and what is wrong.
  caf::error parse(byte_cursor& in, uint64_t count, std::string_view bytes,
                   const std::string& where);

  bool has(const std::string& key) const { return entries_.count(key) > 0; }

  /// An integer of any integer type.
  caf::expected<int64_t> integer(const std::string& key) const;
  /// An integer of any integer type, or `fallback` when the key is absent.
  caf::expected<int64_t> integer(const std::string& key, int64_t fallback) const;
  /// A float32 or float64; a float32 widens to the shortest decimal that reads back as it
  /// (1e-5 stays 1e-5), which is what a writer holding a double meant.
  caf::expected<double> real(const std::string& key) const;
  caf::expected<double> real(const std::string& key, double fallback) const;
  caf::expected<bool> boolean(const std::string& key, bool fallback) const;
  caf::expected<std::string> text(const std::string& key) const;

  /// The number of elements of an array.
  caf::expected<uint64_t> array_size(const std::string& key) const;
  /// Arrays: of strings, of float32/float64, of any integer type.
  caf::expected<std::vector<std::string>> texts(const std::string& key) const;
  caf::expected<std::vector<float>> reals(const std::string& key) const;
  caf::expected<std::vector<int64_t>> integers(const std::string& key) const;

  /// Refusal "WHERE: key 'KEY': what".
  caf::error refuse(const std::string& key, const std::string& what) const;
  /// "is a T, not a WANTED": the one refusal of every typed getter.
  caf::error wrong_type(const std::string& key, value_type type, const char* wanted) const;

private:
  struct entry {
    value_type type = value_type::u8;
    uint64_t pos = 0;                 ///< where the value starts (arrays: the first element)
    value_type elem = value_type::u8; ///< arrays only
    uint64_t count = 0;               ///< arrays only
  };

  caf::expected<entry> find(const std::string& key) const;
  caf::expected<entry> find_array(const std::string& key) const;

  std::map<std::string, entry> entries_;
  std::string_view bytes_;
  std::string where_;
};

} // namespace llmos::model::gguf
