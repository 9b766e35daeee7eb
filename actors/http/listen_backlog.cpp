#include "http/listen_backlog.hpp"

#include <sys/socket.h>

#include "http/process_sockets.hpp"

namespace llmos::http {

bool widen_listen_backlog(uint16_t port) {
  const int fd = find_socket([port](int fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
      return false;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) == 0 &&
           port_of(addr) == port;
  });
  return fd >= 0 && ::listen(fd, SOMAXCONN) == 0;
}

} // namespace llmos::http
