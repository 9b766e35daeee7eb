// cpp-httplib (Debian's compiled 0.11 library) keeps its sockets to itself: neither the listening
// socket nor a request's connection is reachable from a handler. The kernel knows them by
// address, so the gateway finds them among this process's open descriptors.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>

namespace llmos::http {

/// The port of an IPv4 or IPv6 address; 0 for other families.
uint16_t port_of(const sockaddr_storage& addr);

/// The numeric host of an address, as cpp-httplib writes Request::remote_addr.
std::string host_of(const sockaddr_storage& addr, socklen_t len);

/// The first open socket descriptor of this process for which `match` is true; -1 when none.
int find_socket(const std::function<bool(int fd)>& match);

} // namespace llmos::http
