#include "http/client_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <utility>

#include "http/process_sockets.hpp"

namespace llmos::http {

client_connection::client_connection(std::string remote_host, int remote_port, int local_port)
    : remote_host_(std::move(remote_host)), remote_port_(remote_port), local_port_(local_port) {}

bool client_connection::same(int fd) const {
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
    return false;
  return port_of(local) == local_port_ && port_of(peer) == remote_port_ &&
         host_of(peer, plen) == remote_host_;
}

bool client_connection::gone() {
  if (!looked_up_) {
    looked_up_ = true;
    fd_ = find_socket([this](int fd) { return same(fd); });
  }
  if (fd_ < 0)
    return false;
  // The server holds the descriptor until the handler returns, so it names this connection
  // still; a reset one no longer has a peer.
  if (!same(fd_))
    return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0)
    return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

} // namespace llmos::http
