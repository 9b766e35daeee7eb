// Whether the client of a request that is still being answered has gone away. cpp-httplib 0.11
// tells a handler nothing of its connection until it writes, and a non-streamed completion writes
// only at the end: a client that timed out or was stopped would leave its generation running to
// max_tokens. The front door knows the request's socket (guarded_server::current_socket) and
// holds it open until the handler returns; it is watched for the peer's close.
#pragma once

namespace llmos::http {

class client_connection {
public:
  /// The connection on socket `fd` (-1: unknown, never reported gone: nothing is cancelled on
  /// a guess).
  explicit client_connection(int fd) : fd_(fd) {}

  /// True once the client closed or reset the connection.
  bool gone() const;

private:
  int fd_;
};

} // namespace llmos::http
