// cpp-httplib (Debian's compiled library) listens with a backlog of 5: when a burst of clients
// connects at once, the kernel drops the SYNs beyond it and each of those clients waits a whole
// second for its retransmission (measured: time-to-first-token p99 of 1 s at 16 streaming
// clients). The library does not expose its socket, so after bind we find our listening socket by
// its port and listen again with the system's maximum, which only raises the queue.
#pragma once

#include <cstdint>

namespace llmos::http {

/// Raises the accept backlog of this process's listening TCP socket on `port`; false when none
/// was found.
bool widen_listen_backlog(uint16_t port);

} // namespace llmos::http
