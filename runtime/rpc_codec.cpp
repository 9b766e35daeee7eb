#include "llmos/runtime/rpc_codec.hpp"

#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "llmos/runtime/wire_msgpack.hpp"

namespace llmos::rpc {

namespace {

/// The wire's name of `obj`'s type as a phrase: "a map", "an integer", "nil".
std::string described(const msgpack::object& obj) {
  auto name = type_name(obj);
  if (obj.type == msgpack::type::NIL)
    return name;
  return (std::strchr("aeiou", name[0]) != nullptr ? "an " : "a ") + name;
}

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
    return malformed(std::string{"frame is "} + described(obj) + ", expected an array [type, ...]");
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
                       described(arr.ptr[1]));
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
                     described(arr.ptr[1]));
  if (!is_request) {
    response res;
    res.msgid = *msgid;
    res.error = arr.ptr[2];
    res.result = arr.ptr[3];
    res.zone = std::shared_ptr<msgpack::zone>(std::move(handle.zone()));
    return res;
  }
  if (arr.ptr[2].type != msgpack::type::STR)
    return malformed(std::string{"request method must be a string, got "} + described(arr.ptr[2]),
                     msgid);
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

/// The next whole object of `unpacker` into `handle` (`complete` false when the input ends
/// first), or why the stream cannot go on.
std::optional<frame_error> unpack_next(msgpack::unpacker& unpacker, msgpack::object_handle& handle,
                                       bool& complete, const limits& lim) {
  using kind = frame_error::kind;
  // A declared size above its limit: "frame declares an array of more than 100 elements".
  auto declares = [](const char* what, std::size_t limit, const char* unit) {
    return fatal_error(kind::too_large, std::string{"frame declares "} + what + " of more than " +
                                            std::to_string(limit) + " " + unit);
  };
  // msgpack reports bad input by throwing; the parser state is then unknown, so every one of
  // these ends the stream.
  try {
    complete = unpacker.next(handle);
  } catch (const msgpack::array_size_overflow&) {
    return declares("an array", lim.max_elements, "elements");
  } catch (const msgpack::map_size_overflow&) {
    return declares("a map", lim.max_elements, "entries");
  } catch (const msgpack::str_size_overflow&) {
    return declares("a string", lim.max_frame_bytes, "bytes");
  } catch (const msgpack::bin_size_overflow&) {
    return declares("a bin", lim.max_frame_bytes, "bytes");
  } catch (const msgpack::ext_size_overflow&) {
    return declares("an ext", lim.max_frame_bytes, "bytes");
  } catch (const msgpack::depth_size_overflow&) {
    return fatal_error(kind::malformed,
                       "frame nests arrays and maps deeper than " + std::to_string(lim.max_depth));
  } catch (const std::bad_alloc&) {
    return fatal_error(kind::too_large, "out of memory decoding a frame");
  } catch (const std::exception& ex) {
    // msgpack's parse_error, insufficient_bytes and type_error (and anything else it throws).
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

} // namespace llmos::rpc
