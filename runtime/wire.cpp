#include <array>

#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/wire_json.hpp"
#include "llmos/runtime/wire_msgpack.hpp"

// The non-template parts of the wire inspectors: type names for messages, base64, JSON text.
namespace llmos {

std::string type_name(const msgpack::object& obj) {
  switch (obj.type) {
  case msgpack::type::NIL:
    return "nil";
  case msgpack::type::BOOLEAN:
    return "boolean";
  case msgpack::type::POSITIVE_INTEGER:
    return "integer";
  case msgpack::type::NEGATIVE_INTEGER:
    return "negative integer";
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    return "float";
  case msgpack::type::STR:
    return "string";
  case msgpack::type::BIN:
    return "binary";
  case msgpack::type::ARRAY:
    return "array";
  case msgpack::type::MAP:
    return "map";
  case msgpack::type::EXT:
    return "extension";
  }
  return "unknown";
}

const msgpack::object* map_get(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP)
    return nullptr;
  for (uint32_t k = 0; k < map.via.map.size; ++k) {
    const auto& kv = map.via.map.ptr[k];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view{kv.key.via.str.ptr, kv.key.via.str.size} == key)
      return &kv.val;
  }
  return nullptr;
}

} // namespace llmos

namespace llmos::wire {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string must_be(const std::string& at, const char* wanted, const std::string& got) {
  return (at.empty() ? std::string{} : at + ": ") + "must be " + wanted + ", got " + got;
}

} // namespace

nlohmann::json json_or_text(const std::string& text) {
  if (text.empty())
    return nullptr;
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(alphabet[(n >> shift) & 63]);
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2)
      n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0)
    return false;
  std::array<int8_t, 256> value;
  value.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    value[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  out.clear();
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=')
      return false;
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      const auto c = static_cast<uint8_t>(text[i + k]);
      if (k >= 4 - pad) {
        n <<= 6;
        continue;
      }
      if (value[c] < 0)
        return false;
      n = n << 6 | static_cast<uint32_t>(value[c]);
    }
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2)
      out.push_back(static_cast<char>(n >> 8 & 0xff));
    if (pad < 1)
      out.push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

namespace detail {

std::string mismatch(const std::string& at, const char* wanted, const msgpack::object& got) {
  return must_be(at, wanted, type_name(got));
}

std::string json_mismatch(const std::string& at, const char* wanted, const nlohmann::json& got) {
  return must_be(at, wanted, got.type_name());
}

nlohmann::json to_json(const msgpack::object& o) {
  return rpc::to_json(o);
}

} // namespace detail
} // namespace llmos::wire
