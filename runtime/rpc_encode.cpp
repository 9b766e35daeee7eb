#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/wire_msgpack.hpp"

#include <nlohmann/json.hpp>

// The encoding half of the codec: frames out, and msgpack to and from JSON (for the REPL and
// the JSON-speaking tools). The decoding half, with its limits, is rpc_codec.cpp.
namespace llmos::rpc {
namespace {

/// What msgpack::packer writes into: appends to a std::string.
struct string_sink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};

using packer = msgpack::packer<string_sink>;

std::string to_hex(const char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    auto byte = static_cast<unsigned char>(data[i]);
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0x0f]);
  }
  return hex;
}

// Beyond this a hex dump is noise on a terminal; the size alone says what came back.
constexpr std::size_t max_hex_bytes = 32;

void pack_frame_params(packer& pk, std::string& out, std::string_view packed_params) {
  if (packed_params.empty())
    pk.pack_array(0);
  else
    out.append(packed_params.data(), packed_params.size());
}

} // namespace

void encode_request(std::string& out, uint32_t msgid, std::string_view method,
                    std::string_view packed_params) {
  string_sink sink{out};
  packer pk(sink);
  pk.pack_array(4);
  pk.pack_uint8(0);
  pk.pack_uint32(msgid);
  pk.pack_str(static_cast<uint32_t>(method.size()));
  pk.pack_str_body(method.data(), static_cast<uint32_t>(method.size()));
  pack_frame_params(pk, out, packed_params);
}

void encode_notification(std::string& out, std::string_view method,
                         std::string_view packed_params) {
  string_sink sink{out};
  packer pk(sink);
  pk.pack_array(3);
  pk.pack_uint8(2);
  pk.pack_str(static_cast<uint32_t>(method.size()));
  pk.pack_str_body(method.data(), static_cast<uint32_t>(method.size()));
  pack_frame_params(pk, out, packed_params);
}

void encode_response(std::string& out, uint32_t msgid, std::string_view packed_error,
                     std::string_view packed_result) {
  string_sink sink{out};
  packer pk(sink);
  pk.pack_array(4);
  pk.pack_uint8(1);
  pk.pack_uint32(msgid);
  for (auto part : {packed_error, packed_result}) {
    if (part.empty())
      pk.pack_nil();
    else
      out.append(part.data(), part.size());
  }
}

std::string pack_error(std::string_view code, std::string_view message) {
  std::string out;
  string_sink sink{out};
  packer pk(sink);
  pk.pack_map(2);
  pk.pack_str(4);
  pk.pack_str_body("code", 4);
  pk.pack_str(static_cast<uint32_t>(code.size()));
  pk.pack_str_body(code.data(), static_cast<uint32_t>(code.size()));
  pk.pack_str(7);
  pk.pack_str_body("message", 7);
  pk.pack_str(static_cast<uint32_t>(message.size()));
  pk.pack_str_body(message.data(), static_cast<uint32_t>(message.size()));
  return out;
}

namespace {

/// A map key as JSON can have it. JSON keys are strings; a scalar key is shown as its JSON text
/// (1 -> "1"); a map or array key only as its kind: its whole text would be escaped again at
/// every level of keys within keys, and 89 bytes of nested maps grew to gigabytes (found by the
/// rpc_frame fuzzer).
std::string key_text(const msgpack::object& key) {
  switch (key.type) {
  case msgpack::type::STR:
    return std::string(key.via.str.ptr, key.via.str.size);
  case msgpack::type::MAP:
    return "<map>";
  case msgpack::type::ARRAY:
    return "<array>";
  default:
    return to_json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

} // namespace

nlohmann::json to_json(const msgpack::object& obj) {
  switch (obj.type) {
  case msgpack::type::NIL:
    return nullptr;
  case msgpack::type::BOOLEAN:
    return obj.via.boolean;
  case msgpack::type::POSITIVE_INTEGER:
    return obj.via.u64;
  case msgpack::type::NEGATIVE_INTEGER:
    return obj.via.i64;
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    return obj.via.f64;
  case msgpack::type::STR:
    return std::string(obj.via.str.ptr, obj.via.str.size);
  case msgpack::type::BIN: {
    nlohmann::json out = {{"bin_bytes", obj.via.bin.size}};
    if (obj.via.bin.size <= max_hex_bytes)
      out["hex"] = to_hex(obj.via.bin.ptr, obj.via.bin.size);
    return out;
  }
  case msgpack::type::EXT: {
    nlohmann::json out = {{"ext_type", obj.via.ext.type()}, {"ext_bytes", obj.via.ext.size}};
    if (obj.via.ext.size <= max_hex_bytes)
      out["hex"] = to_hex(obj.via.ext.data(), obj.via.ext.size);
    return out;
  }
  case msgpack::type::ARRAY: {
    auto out = nlohmann::json::array();
    for (uint32_t i = 0; i < obj.via.array.size; ++i)
      out.push_back(to_json(obj.via.array.ptr[i]));
    return out;
  }
  case msgpack::type::MAP: {
    auto out = nlohmann::json::object();
    for (uint32_t i = 0; i < obj.via.map.size; ++i) {
      const auto& kv = obj.via.map.ptr[i];
      out[key_text(kv.key)] = to_json(kv.val);
    }
    return out;
  }
  }
  return nullptr;
}

std::string pack_json(const nlohmann::json& value) {
  std::string out;
  string_sink sink{out};
  packer pk(sink);
  wire::pack_json(pk, value);
  return out;
}

} // namespace llmos::rpc
