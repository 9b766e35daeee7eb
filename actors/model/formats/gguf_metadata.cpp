#include "model/formats/gguf_metadata.hpp"

#include <bit>
#include <charconv>
#include <limits>

#include "llmos/messages/error.hpp"

namespace llmos::model::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian; this reader copies scalars as they are");

namespace {

/// Deeper nesting than this is not something a model file needs, and the walk recurses.
constexpr int max_array_depth = 8;

/// Bytes of one value of a fixed-size type; 0 for strings and arrays.
uint64_t fixed_size(value_type t) {
  switch (t) {
  case value_type::u8:
  case value_type::i8:
  case value_type::boolean:
    return 1;
  case value_type::u16:
  case value_type::i16:
    return 2;
  case value_type::u32:
  case value_type::i32:
  case value_type::f32:
    return 4;
  case value_type::u64:
  case value_type::i64:
  case value_type::f64:
    return 8;
  default:
    return 0;
  }
}

const char* type_text(value_type t) {
  static constexpr const char* names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                          "int32",  "float32", "bool",   "string", "array",
                                          "uint64", "int64",   "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool is_integer(value_type t) {
  return fixed_size(t) > 0 && t != value_type::f32 && t != value_type::f64 &&
         t != value_type::boolean;
}

/// Moves past one value of type `t`; "" on success, else what is wrong.
std::string skip_value(byte_cursor& in, value_type t, int depth) {
  if (static_cast<uint32_t>(t) > 12)
    return "unknown value type " + std::to_string(static_cast<uint32_t>(t));
  if (const auto n = fixed_size(t))
    return in.skip(n) ? "" : "truncated: its value runs past the end of the file";
  std::string_view s;
  if (t == value_type::string)
    return in.read_string(s) ? "" : "truncated: its string runs past the end of the file";
  uint32_t elem = 0;
  uint64_t count = 0;
  if (!in.read(elem) || !in.read(count))
    return "truncated: its array header runs past the end of the file";
  const auto et = static_cast<value_type>(elem);
  if (elem > 12)
    return "array of unknown value type " + std::to_string(elem);
  if (const auto n = fixed_size(et))
    return count <= in.remaining() / n && in.skip(count * n)
               ? ""
               : "truncated: an array of " + std::to_string(count) + " " + type_text(et) +
                     " runs past the end of the file";
  // A string takes at least its 8-byte length, an array its 12-byte header: a count the rest
  // of the file cannot hold is refused before the walk.
  const uint64_t least = et == value_type::string ? 8 : 12;
  if (count > in.remaining() / least)
    return "truncated: an array of " + std::to_string(count) + " " + type_text(et) +
           " cannot fit in the " + std::to_string(in.remaining()) + " bytes left";
  if (et == value_type::array && depth >= max_array_depth)
    return "arrays nested deeper than " + std::to_string(max_array_depth);
  for (uint64_t i = 0; i < count; ++i)
    if (auto why = skip_value(in, et, depth + 1); !why.empty())
      return why;
  return "";
}

/// Reads an integer of type `t` into `out`; false when it does not fit int64.
bool read_integer(byte_cursor& in, value_type t, int64_t& out) {
  auto get = [&](auto v) {
    in.read(v); // bounds proved by the walk
    out = static_cast<int64_t>(v);
    return true;
  };
  switch (t) {
  case value_type::u8:
    return get(uint8_t{});
  case value_type::i8:
    return get(int8_t{});
  case value_type::u16:
    return get(uint16_t{});
  case value_type::i16:
    return get(int16_t{});
  case value_type::u32:
    return get(uint32_t{});
  case value_type::i32:
    return get(int32_t{});
  case value_type::i64:
    return get(int64_t{});
  case value_type::u64: {
    uint64_t v = 0;
    in.read(v);
    out = static_cast<int64_t>(v);
    return v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  default:
    return false;
  }
}

double widen(float f) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0;
  if (end.ec != std::errc{} || std::from_chars(buf, end.ptr, d).ec != std::errc{})
    return static_cast<double>(f);
  return d;
}

} // namespace

std::string_view ggml_type_name(uint32_t type) {
  static constexpr std::string_view names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  return type < std::size(names) ? names[type] : std::string_view{};
}

caf::error metadata::parse(byte_cursor& in, uint64_t count, std::string_view bytes,
                           const std::string& where) {
  bytes_ = bytes;
  where_ = where;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    if (!in.read_string(key))
      return make_llmos_error(error_code::bad_config,
                              where + ": truncated: metadata key " + std::to_string(i) + " of " +
                                  std::to_string(count) + " runs past the end of the file");
    const std::string name{key};
    uint32_t type = 0;
    if (!in.read(type))
      return refuse(name, "truncated: its type runs past the end of the file");
    entry e;
    e.type = static_cast<value_type>(type);
    const auto start = in.pos();
    if (auto why = skip_value(in, e.type, 0); !why.empty())
      return refuse(name, why);
    e.pos = start;
    if (e.type == value_type::array) {
      byte_cursor head{bytes, start};
      uint32_t elem = 0;
      head.read(elem);
      head.read(e.count);
      e.elem = static_cast<value_type>(elem);
      e.pos = head.pos();
    }
    if (!entries_.emplace(name, e).second)
      return refuse(name, "appears twice");
  }
  return {};
}

caf::error metadata::refuse(const std::string& key, const std::string& what) const {
  return make_llmos_error(error_code::bad_config, where_ + ": key '" + key + "': " + what);
}

caf::error metadata::wrong_type(const std::string& key, value_type type, const char* wanted) const {
  return refuse(key, std::string{"is a "} + type_text(type) + ", not " + wanted);
}

caf::expected<metadata::entry> metadata::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end())
    return refuse(key, "not in the file");
  return it->second;
}

caf::expected<metadata::entry> metadata::find_array(const std::string& key) const {
  auto e = find(key);
  if (e && e->type != value_type::array)
    return wrong_type(key, e->type, "an array");
  return e;
}

caf::expected<int64_t> metadata::integer(const std::string& key) const {
  auto e = find(key);
  if (!e)
    return e.error();
  if (!is_integer(e->type))
    return wrong_type(key, e->type, "an integer");
  byte_cursor in{bytes_, e->pos};
  int64_t v = 0;
  if (!read_integer(in, e->type, v))
    return refuse(key, "value does not fit a signed 64-bit integer");
  return v;
}

caf::expected<int64_t> metadata::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : caf::expected<int64_t>{fallback};
}

caf::expected<double> metadata::real(const std::string& key) const {
  auto e = find(key);
  if (!e)
    return e.error();
  byte_cursor in{bytes_, e->pos};
  if (e->type == value_type::f32) {
    float f = 0;
    in.read(f);
    return widen(f);
  }
  if (e->type == value_type::f64) {
    double d = 0;
    in.read(d);
    return d;
  }
  return wrong_type(key, e->type, "a float");
}

caf::expected<double> metadata::real(const std::string& key, double fallback) const {
  return has(key) ? real(key) : caf::expected<double>{fallback};
}

caf::expected<bool> metadata::boolean(const std::string& key, bool fallback) const {
  if (!has(key))
    return fallback;
  auto e = find(key);
  if (e->type != value_type::boolean)
    return wrong_type(key, e->type, "a bool");
  byte_cursor in{bytes_, e->pos};
  uint8_t b = 0;
  in.read(b);
  return b != 0;
}

caf::expected<std::string> metadata::text(const std::string& key) const {
  auto e = find(key);
  if (!e)
    return e.error();
  if (e->type != value_type::string)
    return wrong_type(key, e->type, "a string");
  byte_cursor in{bytes_, e->pos};
  std::string_view s;
  in.read_string(s);
  return std::string{s};
}

caf::expected<uint64_t> metadata::array_size(const std::string& key) const {
  auto e = find_array(key);
  if (!e)
    return e.error();
  return e->count;
}

caf::expected<std::vector<std::string>> metadata::texts(const std::string& key) const {
  auto e = find_array(key);
  if (!e)
    return e.error();
  if (e->elem != value_type::string)
    return refuse(key, std::string{"is an array of "} + type_text(e->elem) + ", not of strings");
  byte_cursor in{bytes_, e->pos};
  std::vector<std::string> out;
  out.reserve(e->count); // the walk proved the file holds `count` strings
  for (uint64_t i = 0; i < e->count; ++i) {
    std::string_view s;
    in.read_string(s);
    out.emplace_back(s);
  }
  return out;
}

caf::expected<std::vector<float>> metadata::reals(const std::string& key) const {
  auto e = find_array(key);
  if (!e)
    return e.error();
  if (e->elem != value_type::f32 && e->elem != value_type::f64)
    return refuse(key, std::string{"is an array of "} + type_text(e->elem) + ", not of floats");
  byte_cursor in{bytes_, e->pos};
  std::vector<float> out(e->count);
  for (auto& x : out) {
    if (e->elem == value_type::f32) {
      in.read(x);
    } else {
      double d = 0;
      in.read(d);
      x = static_cast<float>(d);
    }
  }
  return out;
}

caf::expected<std::vector<int64_t>> metadata::integers(const std::string& key) const {
  auto e = find_array(key);
  if (!e)
    return e.error();
  if (!is_integer(e->elem))
    return refuse(key, std::string{"is an array of "} + type_text(e->elem) + ", not of integers");
  byte_cursor in{bytes_, e->pos};
  std::vector<int64_t> out(e->count);
  for (auto& x : out)
    if (!read_integer(in, e->elem, x))
      return refuse(key, "an element does not fit a signed 64-bit integer");
  return out;
}

} // namespace llmos::model::gguf
