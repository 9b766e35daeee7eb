#include "llmos/runtime/rpc_codec.hpp"

#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include <nlohmann/json.hpp>

namespace llmos::rpc {

namespace {

/// What msgpack::packer writes into: appends to a std::string.
struct string_sink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};

using packer = msgpack::packer<string_sink>;

const char* type_name(msgpack::type::object_type type) {
  switch (type) {
  case msgpack::type::NIL:
    return "nil";
  case msgpack::type::BOOLEAN:
    return "a boolean";
  case msgpack::type::POSITIVE_INTEGER:
    return "an unsigned integer";
  case msgpack::type::NEGATIVE_INTEGER:
    return "a negative integer";
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    return "a float";
  case msgpack::type::STR:
    return "a string";
  case msgpack::type::BIN:
    return "bin";
  case msgpack::type::ARRAY:
    return "an array";
  case msgpack::type::MAP:
    return "a map";
  case msgpack::type::EXT:
    return "ext";
  }
  return "an unknown type";
}

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

std::optional<uint32_t> read_msgid(const msgpack::object& obj) {
  // A non-negative integer always arrives as POSITIVE_INTEGER; msgpack never packs one as
  // NEGATIVE_INTEGER, so anything else is not a valid msgid.
  if (obj.type != msgpack::type::POSITIVE_INTEGER ||
      obj.via.u64 > std::numeric_limits<uint32_t>::max())
    return std::nullopt;
  return static_cast<uint32_t>(obj.via.u64);
}

frame_error malformed(std::string message, std::optional<uint32_t> msgid = std::nullopt) {
  frame_error err;
  err.what = frame_error::kind::malformed;
  err.message = std::move(message);
  err.msgid = msgid;
  // With a msgid the gateway can answer the request with an error; without one, nobody can be
  // told what went wrong, and a peer sending such frames is not speaking msgpack-RPC at all.
  err.fatal = !msgid.has_value();
  return err;
}

frame_error fatal_error(frame_error::kind what, std::string message) {
  frame_error err;
  err.what = what;
  err.message = std::move(message);
  err.fatal = true;
  return err;
}

/// Checks the shape of a whole msgpack object and turns it into a request or response.
frame_decoder::item to_frame(msgpack::object_handle& handle) {
  const msgpack::object& obj = handle.get();
  if (obj.type != msgpack::type::ARRAY)
    return malformed(std::string{"frame is "} + type_name(obj.type) +
                     ", expected an array [type, ...]");
  const auto& arr = obj.via.array;
  const auto size = arr.size;
  if (size == 0)
    return malformed("frame is an empty array, expected [type, ...]");
  const auto& tag = arr.ptr[0];
  if (tag.type != msgpack::type::POSITIVE_INTEGER || tag.via.u64 > 2) {
    // The msgid still lets the gateway answer a client that got the type tag wrong.
    return malformed("frame type must be 0 (request), 1 (response) or 2 (notification)",
                     size >= 2 ? read_msgid(arr.ptr[1]) : std::nullopt);
  }
  if (tag.via.u64 == 2) {
    if (size != 3)
      return malformed("notification must be [2, method, params], got " + std::to_string(size) +
                       " elements");
    if (arr.ptr[1].type != msgpack::type::STR)
      return malformed(std::string{"notification method must be a string, got "} +
                       type_name(arr.ptr[1].type));
    request req;
    req.method.assign(arr.ptr[1].via.str.ptr, arr.ptr[1].via.str.size);
    req.params = arr.ptr[2];
    req.notification = true;
    req.zone = std::shared_ptr<msgpack::zone>(std::move(handle.zone()));
    return req;
  }
  const bool is_request = tag.via.u64 == 0;
  const char* what = is_request ? "request" : "response";
  auto msgid = size >= 2 ? read_msgid(arr.ptr[1]) : std::nullopt;
  if (size != 4)
    return malformed(std::string{what} +
                         (is_request ? " must be [0, msgid, method, params], got "
                                     : " must be [1, msgid, error, result], got ") +
                         std::to_string(size) + " elements",
                     msgid);
  if (!msgid)
    return malformed(std::string{what} + " msgid must be an unsigned 32-bit integer, got " +
                     type_name(arr.ptr[1].type));
  if (!is_request) {
    response res;
    res.msgid = *msgid;
    res.error = arr.ptr[2];
    res.result = arr.ptr[3];
    res.zone = std::shared_ptr<msgpack::zone>(std::move(handle.zone()));
    return res;
  }
  if (arr.ptr[2].type != msgpack::type::STR)
    return malformed(
        std::string{"request method must be a string, got "} + type_name(arr.ptr[2].type), msgid);
  request req;
  req.msgid = *msgid;
  req.method.assign(arr.ptr[2].via.str.ptr, arr.ptr[2].via.str.size);
  req.params = arr.ptr[3];
  req.zone = std::shared_ptr<msgpack::zone>(std::move(handle.zone()));
  return req;
}

msgpack::unpack_limit make_unpack_limit(const limits& lim) {
  // The limits are checked when a header is read, before msgpack allocates room for the
  // elements, so a 5-byte frame declaring 4 billion elements is refused without allocating.
  return msgpack::unpack_limit(lim.max_elements, lim.max_elements, lim.max_frame_bytes,
                               lim.max_frame_bytes, lim.max_frame_bytes, lim.max_depth);
}

// str, bin and ext point into the receive buffer instead of being copied; each frame's zone
// keeps that buffer alive, so a tensor sent as bin is never copied on the way in. (The
// unpacker's own default does the same but is private, and the limits come after it.)
bool reference_in_place(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

void pack_frame_params(packer& pk, std::string& out, std::string_view packed_params) {
  if (packed_params.empty())
    pk.pack_array(0);
  else
    out.append(packed_params.data(), packed_params.size());
}

void pack_json_into(packer& pk, const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
  case value_t::null:
  case value_t::discarded:
    pk.pack_nil();
    return;
  case value_t::boolean:
    if (value.get<bool>())
      pk.pack_true();
    else
      pk.pack_false();
    return;
  case value_t::number_integer:
    pk.pack_int64(value.get<int64_t>());
    return;
  case value_t::number_unsigned:
    pk.pack_uint64(value.get<uint64_t>());
    return;
  case value_t::number_float:
    pk.pack_double(value.get<double>());
    return;
  case value_t::string: {
    const auto& str = value.get_ref<const std::string&>();
    pk.pack_str(static_cast<uint32_t>(str.size()));
    pk.pack_str_body(str.data(), static_cast<uint32_t>(str.size()));
    return;
  }
  case value_t::binary: {
    const auto& bin = value.get_binary();
    pk.pack_bin(static_cast<uint32_t>(bin.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(bin.data()), static_cast<uint32_t>(bin.size()));
    return;
  }
  case value_t::array:
    pk.pack_array(static_cast<uint32_t>(value.size()));
    for (const auto& element : value)
      pack_json_into(pk, element);
    return;
  case value_t::object:
    pk.pack_map(static_cast<uint32_t>(value.size()));
    for (const auto& [key, element] : value.items()) {
      pk.pack_str(static_cast<uint32_t>(key.size()));
      pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
      pack_json_into(pk, element);
    }
    return;
  }
  pk.pack_nil();
}

/// The next whole object of `unpacker` into `handle` (`complete` false when the input ends
/// first), or why the stream cannot go on.
std::optional<frame_error> unpack_next(msgpack::unpacker& unpacker, msgpack::object_handle& handle,
                                       bool& complete, const limits& lim) {
  using kind = frame_error::kind;
  // msgpack reports bad input by throwing; the parser state is then unknown, so every one of
  // these ends the stream.
  try {
    complete = unpacker.next(handle);
  } catch (const msgpack::array_size_overflow&) {
    return fatal_error(kind::too_large, "frame declares an array of more than " +
                                            std::to_string(lim.max_elements) + " elements");
  } catch (const msgpack::map_size_overflow&) {
    return fatal_error(kind::too_large, "frame declares a map of more than " +
                                            std::to_string(lim.max_elements) + " entries");
  } catch (const msgpack::str_size_overflow&) {
    return fatal_error(kind::too_large, "frame declares a string of more than " +
                                            std::to_string(lim.max_frame_bytes) + " bytes");
  } catch (const msgpack::bin_size_overflow&) {
    return fatal_error(kind::too_large, "frame declares a bin of more than " +
                                            std::to_string(lim.max_frame_bytes) + " bytes");
  } catch (const msgpack::ext_size_overflow&) {
    return fatal_error(kind::too_large, "frame declares an ext of more than " +
                                            std::to_string(lim.max_frame_bytes) + " bytes");
  } catch (const msgpack::depth_size_overflow&) {
    return fatal_error(kind::malformed,
                       "frame nests arrays and maps deeper than " + std::to_string(lim.max_depth));
  } catch (const msgpack::parse_error& ex) {
    return fatal_error(kind::malformed, std::string{"invalid msgpack: "} + ex.what());
  } catch (const msgpack::insufficient_bytes& ex) {
    return fatal_error(kind::malformed, std::string{"invalid msgpack: "} + ex.what());
  } catch (const msgpack::type_error& ex) {
    return fatal_error(kind::malformed, std::string{"invalid msgpack: "} + ex.what());
  } catch (const std::bad_alloc&) {
    return fatal_error(kind::too_large, "out of memory decoding a frame");
  } catch (const std::exception& ex) {
    return fatal_error(kind::malformed, std::string{"invalid msgpack: "} + ex.what());
  } catch (...) {
    return fatal_error(kind::malformed, "invalid msgpack");
  }
  return std::nullopt;
}

} // namespace

frame_decoder::frame_decoder(limits lim)
    : limits_(lim), unpacker_(&reference_in_place, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE,
                              make_unpack_limit(lim)) {}

void frame_decoder::feed(const char* data, std::size_t size) {
  // After a fatal error nothing is parsed again; keeping the bytes would only use memory.
  if (failed_ || size == 0)
    return;
  unpacker_.reserve_buffer(size);
  std::memcpy(unpacker_.buffer(), data, size);
  unpacker_.buffer_consumed(size);
}

std::size_t frame_decoder::pending_bytes() const {
  // message_size() counts the bytes already parsed into the unfinished frame plus those not
  // yet looked at; nonparsed_size() alone would miss the first.
  return unpacker_.message_size();
}

void frame_decoder::reset() {
  // The unpacker cannot be moved or assigned (see the header), so it is rebuilt in place.
  std::destroy_at(&unpacker_);
  std::construct_at(&unpacker_, &reference_in_place, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE,
                    make_unpack_limit(limits_));
  failed_.reset();
}

frame_decoder::item frame_decoder::next() {
  if (failed_)
    return *failed_;
  auto fail = [this](frame_error err) -> item {
    err.fatal = true;
    failed_ = err;
    return err;
  };
  using kind = frame_error::kind;
  const std::size_t before = unpacker_.message_size();
  msgpack::object_handle handle;
  bool complete = false;
  if (auto err = unpack_next(unpacker_, handle, complete, limits_))
    return fail(std::move(*err));
  if (!complete) {
    // Everything still buffered belongs to the unfinished frame: the parser stopped at the end
    // of the input, not at a frame boundary.
    const std::size_t pending = unpacker_.message_size();
    if (pending > limits_.max_frame_bytes)
      return fail(fatal_error(
          kind::too_large, "frame exceeds " + std::to_string(limits_.max_frame_bytes) + " bytes (" +
                               std::to_string(pending) + " bytes received without completing it)"));
    return std::monostate{};
  }
  // Refuse a frame above the limit even when it arrived in one piece, so the outcome does not
  // depend on how TCP happened to split the stream.
  const std::size_t frame_size = before - unpacker_.message_size();
  if (frame_size > limits_.max_frame_bytes) {
    auto err =
        fatal_error(kind::too_large, "frame of " + std::to_string(frame_size) + " bytes exceeds " +
                                         std::to_string(limits_.max_frame_bytes));
    const auto& obj = handle.get();
    if (obj.type == msgpack::type::ARRAY && obj.via.array.size >= 2)
      err.msgid = read_msgid(obj.via.array.ptr[1]);
    return fail(std::move(err));
  }
  if (!handle.zone())
    return fail(fatal_error(kind::too_large, "out of memory decoding a frame"));
  auto frame = to_frame(handle);
  if (auto* err = std::get_if<frame_error>(&frame); err && err->fatal)
    failed_ = *err;
  return frame;
}

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
      // JSON keys are strings; any other key is shown as its JSON text (1 -> "1").
      std::string key =
          kv.key.type == msgpack::type::STR
              ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
              : to_json(kv.key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out[std::move(key)] = to_json(kv.val);
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
  pack_json_into(pk, value);
  return out;
}

} // namespace llmos::rpc
