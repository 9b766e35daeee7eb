// The HTTP gateway's front door: a cpp-httplib server whose connections wait for a request's
// head in one poll thread, not on a worker. cpp-httplib 0.11 gives each connection a worker
// thread from accept to close: eight clients trickling a header a byte at a time, or eight idle
// keep-alive connections, held all eight workers and /healthz waited behind them; the thread
// pool was the connection limit, the request line had no length bound, and a handler's
// `Connection: close` was not honoured. Here:
// - connections beyond `max_connections` get 503 at once and are closed;
// - a request's head (request line and headers) must arrive whole within `head_timeout` of its
//   first byte and within `max_head_bytes` (else 408 or 431 and close); an idle kept-alive
//   connection is closed after `idle_timeout`;
// - only a complete head takes a worker, and with it its whole body when the head declares one
//   of at most `max_collected_body` bytes by Content-Length (so a client trickling a body holds
//   no worker either; it has `body_timeout` from the end of its head, else 408); the worker runs
//   cpp-httplib's own request processing (routing, body limits, streaming) over this
//   connection, reading any other body within `body_timeout`; then the connection goes back to
//   waiting, or is closed when the client or the response said `Connection: close`.
// With TLS settings the same door serves HTTPS (door_connection.hpp): the handshake happens in the
// poll thread within `head_timeout` of its first byte, so TLS clients get every bound above too
// (cpp-httplib's SSLServer held a worker thread per connection from accept to close).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include <httplib.h>

#include "llmos/runtime/tls_channel.hpp"

namespace llmos::http {

struct front_door_limits {
  unsigned workers = 8;               ///< requests processed at once
  std::size_t max_connections = 1024; ///< open connections, waiting or being served
  std::size_t max_head_bytes = 64 * 1024;
  std::chrono::milliseconds head_timeout{10000}; ///< first byte of a head to its blank line
  std::chrono::milliseconds idle_timeout{5000};  ///< a kept-alive connection between requests
  std::chrono::milliseconds body_timeout{60000}; ///< reading one request's body, all of it
  /// Bodies up to this size (by Content-Length) arrive whole in the poll thread before a worker
  /// takes the request; larger or chunked ones are read by the worker.
  std::size_t max_collected_body = 256 * 1024;
  std::size_t max_collected_total = 64 * 1024 * 1024; ///< all bodies being collected at once
  std::chrono::milliseconds io_timeout{5000};         ///< one wait to send or receive on a worker
};

class front_door;

/// An httplib::Server served through a front_door. Stop it with stop() (httplib's) and, once
/// the listening thread returned, close() (closes every connection, joins the workers).
class guarded_server : public httplib::Server {
public:
  /// `tls`: a server context (tls::context::server) to speak HTTPS only; null for plain HTTP.
  explicit guarded_server(front_door_limits limits, std::shared_ptr<tls::context> tls = nullptr);
  ~guarded_server() override;

  /// Closes every connection and joins the workers (waiting for requests being processed).
  void close();

  /// Called by the logger with each response written: a response that says
  /// `Connection: close` closes its connection (cpp-httplib would read on).
  static void note_response(const httplib::Response& res);

  /// Connections open now (waiting for a head or being served).
  std::size_t open_connections() const;

  /// Raises the listening socket's backlog from cpp-httplib's 5 to SOMAXCONN (after a bind): a
  /// burst of dials beyond 5 would otherwise wait out the kernel's 1 s SYN retransmission while
  /// the accepting thread is busy. False when no socket was bound.
  bool widen_backlog();

  /// The socket of the request this thread is processing (a handler on a worker), -1 elsewhere.
  static int current_socket();

private:
  bool process_and_close_socket(socket_t sock) override;
  bool process_one(httplib::Stream& strm, bool& close_after);

  std::unique_ptr<front_door> door_;
  std::atomic<int> listen_fd_{-1}; ///< the socket bind_to_port made (socket options hook)
  friend class front_door;
};

} // namespace llmos::http
