// Socket addresses as cpp-httplib writes them (Request::remote_addr, remote_port).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace llmos::http {

/// The port of an IPv4 or IPv6 address; 0 for other families.
uint16_t port_of(const sockaddr_storage& addr);

/// The numeric host of an address, as cpp-httplib writes Request::remote_addr.
std::string host_of(const sockaddr_storage& addr, socklen_t len);

} // namespace llmos::http
