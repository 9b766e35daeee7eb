#include "http/door_connection.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "http/http_errors.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::http {

door_connection::door_connection(int fd, const std::shared_ptr<tls::context>& tls) : fd_(fd) {
  if (tls)
    channel_ = std::make_unique<tls::channel>(tls);
}

door_connection::received door_connection::receive(std::string& plaintext) {
  char chunk[16 * 1024];
  for (;;) {
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return received::nothing;
    if (n <= 0) {
      why_ = n < 0 ? "the socket failed" : "";
      return received::closed;
    }
    if (!channel_) {
      plaintext.append(chunk, static_cast<std::size_t>(n));
      return received::bytes;
    }
    if (auto err = channel_->feed(chunk, static_cast<std::size_t>(n), plaintext)) {
      why_ = describe(err);
      take_channel_output(); // a TLS alert for the peer, if OpenSSL made one
      return received::closed;
    }
    take_channel_output();
    return received::bytes;
  }
}

bool door_connection::queue(std::string_view plaintext) {
  if (!channel_) {
    append(plaintext);
    return true;
  }
  if (auto err = channel_->write(plaintext)) {
    why_ = describe(err);
    return false;
  }
  take_channel_output();
  return true;
}

void door_connection::take_channel_output() {
  append(channel_->take_output());
}

void door_connection::append(std::string_view bytes) {
  if (sent_ == out_.size()) { // all sent: start over rather than grow
    out_.clear();
    sent_ = 0;
  }
  out_.append(bytes);
}

bool door_connection::flush() {
  while (sent_ < out_.size()) {
    const auto n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return true;
    why_ = "the socket failed";
    return false;
  }
  out_.clear();
  sent_ = 0;
  return true;
}

void door_connection::refuse(int status, const char* phrase, const std::string& reason) {
  const auto body = error_body(status, reason);
  const auto text =
      "HTTP/1.1 " + std::to_string(status) + " " + phrase +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  if (queue(text))
    flush();
  // Closing with unread input makes the kernel reset the connection, and the client would
  // likely lose the answer: end our side, and drop what is there to read now (bounded).
  ::shutdown(fd_, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 256 && ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

} // namespace llmos::http
