// Whether the client of a request that is still being answered has gone away. cpp-httplib 0.11
// tells a handler nothing of its connection until it writes, and a non-streamed completion writes
// only at the end: a client that timed out or was stopped would leave its generation running to
// max_tokens. The connection is found by its addresses (process_sockets.hpp) and watched for the
// peer's close.
#pragma once

#include <string>

namespace llmos::http {

class client_connection {
public:
  /// The connection from remote_host:remote_port to this process's local_port (cpp-httplib's
  /// Request::remote_addr, remote_port and local_port).
  client_connection(std::string remote_host, int remote_port, int local_port);

  /// True once the client closed or reset the connection. The socket is looked up on the first
  /// call; one that cannot be found is not reported gone (nothing is cancelled on a guess).
  bool gone();

private:
  bool same(int fd) const;

  std::string remote_host_;
  int remote_port_;
  int local_port_;
  int fd_ = -1;
  bool looked_up_ = false;
};

} // namespace llmos::http
