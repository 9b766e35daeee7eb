// A blocking msgpack-RPC client over TCP: what the REPL, the benchmarks and tests use to talk to
// a node's gateway. One connection, one request at a time, or a pipeline of many (call_many).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "llmos/runtime/rpc_codec.hpp"

namespace llmos::tls {
class context;
class channel;
} // namespace llmos::tls

namespace llmos::rpc {

/// The outcome of one call: result on success, or the error object the server sent.
struct call_result {
  bool ok = false;
  nlohmann::json value; ///< the result, or the error object {"code", "message"}
};

/// One blocking connection to a gateway. Not thread-safe: one thread drives a client.
class client {
public:
  client();
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Speaks TLS on the next connect (a client context: the CA that signed the node's RPC
  /// certificate); the server's certificate must name the host given to connect.
  void use_tls(std::shared_ptr<tls::context> ctx);

  /// Connects to host:port; error io_failed names the address and the errno text (or the TLS
  /// handshake's failure).
  caf::error connect(const std::string& host, uint16_t port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Sends [0, id, method, params] and waits for its response.
  caf::expected<call_result> call(const std::string& method, const nlohmann::json& params,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Asks the gateway to answer each later call on this connection `request_timeout` once it
  /// waited `limit` without an answer or progress (the server's default is one hour).
  caf::error limit_calls(std::chrono::milliseconds limit);

  /// Same with params already packed as msgpack (no JSON conversion on the hot path).
  caf::expected<call_result> call_packed(const std::string& method, const std::string& params,
                                         std::chrono::milliseconds timeout);

  /// Sends `count` requests back to back with at most `window` unanswered, and waits for all
  /// responses; returns how many succeeded. Used for pipelined throughput. `timeout` bounds the
  /// wait for each response, not the whole batch, so large batches need no guess at a total.
  caf::expected<std::size_t> call_many(const std::string& method, const std::string& packed_params,
                                       std::size_t count, std::size_t window,
                                       std::chrono::milliseconds timeout);

  /// Writes raw bytes (tests send malformed frames with it).
  caf::error send_raw(const std::string& bytes);

  /// Reads one response frame; error when the server closed the connection.
  caf::expected<call_result> read_response(std::chrono::milliseconds timeout);

  /// True while the connection is open.
  bool connected() const { return fd_ >= 0; }

  /// Closes the connection and drops unread bytes; the destructor does the same.
  void close();

  /// Called for each notification [2, method, params] the server sends while a call waits
  /// (e.g. "progress" of a long ingest).
  void on_notification(std::function<void(const std::string&, const nlohmann::json&)> fn) {
    on_notification_ = std::move(fn);
  }

private:
  caf::expected<response> read_frame(std::chrono::milliseconds timeout);

  using clock = std::chrono::steady_clock;
  caf::expected<response> read_frame_until(clock::time_point deadline,
                                           std::chrono::milliseconds timeout);
  caf::error send_all(std::string_view bytes, clock::time_point deadline,
                      std::chrono::milliseconds timeout);
  caf::error send_wire(std::string_view bytes, clock::time_point deadline,
                       std::chrono::milliseconds timeout);
  caf::error send_bytes(std::string_view bytes, clock::time_point deadline,
                        std::chrono::milliseconds timeout);
  caf::error receive_some(clock::time_point deadline, std::chrono::milliseconds timeout);
  caf::error handshake(const std::string& host, clock::time_point deadline,
                       std::chrono::milliseconds timeout);
  caf::error io_error(const std::string& what) const;

  int fd_ = -1;
  std::shared_ptr<tls::context> tls_ctx_;
  std::unique_ptr<tls::channel> tls_; ///< present while a TLS connection is open
  bool in_send_ = false;              ///< a send is under way (reads may happen inside it)
  std::string tls_pending_;           ///< TLS output made by a read inside a send
  std::string peer_;                  ///< "host:port", for error messages
  uint32_t next_id_ = 1;
  frame_decoder decoder_;
  std::function<void(const std::string&, const nlohmann::json&)> on_notification_;
};

/// Parses "HOST:PORT" (IPv4, name or [IPv6]); error bad_option says what is wrong.
caf::expected<std::pair<std::string, uint16_t>> parse_endpoint(const std::string& text);

} // namespace llmos::rpc
