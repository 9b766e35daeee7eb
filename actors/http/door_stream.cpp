#include "http/door_stream.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "http/process_sockets.hpp"

namespace llmos::http {
namespace {

template <class Fn> void address_of(int fd, Fn fn, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fn(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return;
  ip = host_of(addr, len);
  port = port_of(addr);
}

} // namespace

int millis_until(door_clock::time_point t) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(t - door_clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

bool wait_for(int fd, short events, door_clock::time_point limit) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, millis_until(limit));
    if (rc < 0 && errno == EINTR)
      continue;
    return rc > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

door_stream::door_stream(door_connection& conn, std::string buffered,
                         std::chrono::milliseconds io_timeout, door_clock::time_point body_deadline)
    : conn_(conn), buf_(std::move(buffered)), io_timeout_(io_timeout),
      body_deadline_(body_deadline) {}

door_clock::time_point door_stream::read_limit() const {
  return std::min(door_clock::now() + io_timeout_, body_deadline_);
}

bool door_stream::is_readable() const {
  return pos_ < buf_.size() || wait_for(conn_.fd(), POLLIN, read_limit());
}

bool door_stream::is_writable() const {
  return wait_for(conn_.fd(), POLLOUT, door_clock::now() + io_timeout_);
}

ssize_t door_stream::read(char* ptr, size_t size) {
  for (;;) {
    if (pos_ < buf_.size()) {
      const auto n = std::min(size, buf_.size() - pos_);
      std::copy_n(buf_.data() + pos_, n, ptr);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    buf_.clear();
    pos_ = 0;
    switch (conn_.receive(buf_)) {
    case door_connection::received::bytes:
      // A TLS record may complete no plaintext, and may ask for an answer (a key update).
      if (conn_.pending() && !flush_all())
        return -1;
      continue;
    case door_connection::received::nothing:
      if (!wait_for(conn_.fd(), POLLIN, read_limit()))
        return -1;
      continue;
    case door_connection::received::closed:
      return conn_.why().empty() ? 0 : -1;
    }
  }
}

ssize_t door_stream::write(const char* ptr, size_t size) {
  if (!conn_.queue({ptr, size}) || !flush_all())
    return -1;
  return static_cast<ssize_t>(size);
}

bool door_stream::flush_all() {
  for (;;) {
    if (!conn_.flush())
      return false;
    if (!conn_.pending())
      return true;
    if (!wait_for(conn_.fd(), POLLOUT, door_clock::now() + io_timeout_))
      return false;
  }
}

void door_stream::get_remote_ip_and_port(std::string& ip, int& port) const {
  address_of(conn_.fd(), ::getpeername, ip, port);
}

void door_stream::get_local_ip_and_port(std::string& ip, int& port) const {
  address_of(conn_.fd(), ::getsockname, ip, port);
}

} // namespace llmos::http
