#include "http/client_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

namespace llmos::http {

bool client_connection::gone() const {
  if (fd_ < 0)
    return false;
  // A reset connection no longer has a peer.
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0)
    return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0)
    return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

} // namespace llmos::http
