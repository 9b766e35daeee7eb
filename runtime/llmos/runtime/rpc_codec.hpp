// The msgpack-RPC wire format of the edge: requests [0, msgid, method, params], responses
// [1, msgid, error, result] and notifications [2, method, params]. The decoder takes bytes as
// they arrive on a TCP stream and yields whole frames; malformed, truncated and oversized input
// is reported, never thrown, so the gateway can answer with an error or close the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <msgpack.hpp>
#include <nlohmann/json_fwd.hpp>

namespace llmos::rpc {

/// Limits that keep one client from exhausting a node's memory.
struct limits {
  std::size_t max_frame_bytes = 16u << 20; ///< a frame larger than this is refused
  std::size_t max_depth = 32;              ///< nesting of arrays and maps
  std::size_t max_elements = 1u << 20;     ///< elements in one array or map
};

/// A decoded request. `params` points into `zone`'s memory, which lives as long as the request.
struct request {
  uint32_t msgid = 0;
  std::string method;
  msgpack::object params; ///< usually an array (msgpack-RPC) or a map; nil when absent
  std::shared_ptr<msgpack::zone> zone;
  bool notification = false; ///< [2, method, params]: no response is sent
};

/// A decoded response (used by clients).
struct response {
  uint32_t msgid = 0;
  msgpack::object error;  ///< nil on success
  msgpack::object result; ///< nil on error
  std::shared_ptr<msgpack::zone> zone;
};

/// What went wrong with the input. `msgid` is set when the frame was whole enough to carry one,
/// so the gateway can answer that request instead of dropping the connection.
struct frame_error {
  enum class kind { malformed, too_large } what = kind::malformed;
  std::string message;
  std::optional<uint32_t> msgid;
  bool fatal = true; ///< true: the stream cannot be resynchronised; close the connection
};

/// Incremental decoder for one TCP stream. Array and map sizes are checked against `limits` as
/// their headers arrive; a str, bin or ext only once its bytes are there, so until then
/// max_frame_bytes bounds what one frame may buffer.
class frame_decoder {
public:
  explicit frame_decoder(limits lim = {});

  // msgpack::unpacker keeps a reference to one of its own members, so a moved unpacker would
  // point into the moved-from object: a decoder stays where it was built.
  frame_decoder(const frame_decoder&) = delete;
  frame_decoder& operator=(const frame_decoder&) = delete;
  frame_decoder(frame_decoder&&) = delete;
  frame_decoder& operator=(frame_decoder&&) = delete;

  /// Appends received bytes.
  void feed(const char* data, std::size_t size);

  /// The next whole frame, nothing when more bytes are needed, or an error. After a fatal
  /// error the decoder yields only that error again.
  using item = std::variant<std::monostate, request, response, frame_error>;
  item next();

  /// Bytes received but not yet part of a whole frame.
  std::size_t pending_bytes() const;

  /// Drops buffered bytes and any error, as for a new connection (a client reconnecting).
  void reset();

private:
  limits limits_;
  msgpack::unpacker unpacker_;
  std::optional<frame_error> failed_;
};

/// Appends a packed request frame to `out`; `params` must already be packed msgpack (empty
/// goes out as an empty array).
void encode_request(std::string& out, uint32_t msgid, std::string_view method,
                    std::string_view packed_params);

/// Appends a response frame. Exactly one of `packed_error` and `packed_result` is non-empty;
/// the empty one goes out as nil.
void encode_response(std::string& out, uint32_t msgid, std::string_view packed_error,
                     std::string_view packed_result);

/// Appends a notification frame [2, method, params]; empty `packed_params` goes out as [].
void encode_notification(std::string& out, std::string_view method, std::string_view packed_params);

/// Packs an error object {"code": code, "message": message} (what the gateway sends).
std::string pack_error(std::string_view code, std::string_view message);

/// Converts msgpack to JSON for display (bin becomes {"bin_bytes": size}, plus "hex" when small).
nlohmann::json to_json(const msgpack::object& obj);

/// Packs JSON as msgpack (used by the REPL to build params from k=v arguments).
std::string pack_json(const nlohmann::json& value);

} // namespace llmos::rpc
