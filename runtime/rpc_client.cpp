#include "llmos/runtime/rpc_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/tls_channel.hpp"

namespace llmos::rpc {

namespace {

using clock = std::chrono::steady_clock;

/// Milliseconds left until `deadline`, rounded up so poll never wakes just before it.
int poll_timeout(clock::time_point deadline) {
  auto left = deadline - clock::now();
  if (left <= clock::duration::zero())
    return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

std::string format_peer(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

call_result to_result(const response& res) {
  call_result out;
  out.ok = res.error.type == msgpack::type::NIL;
  out.value = out.ok ? to_json(res.result) : to_json(res.error);
  return out;
}

/// Waits for `events` on `fd` until `deadline`; 0 on timeout, -1 with errno on failure.
int poll_until(int fd, short events, clock::time_point deadline, short& revents) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int rc = ::poll(&pfd, 1, poll_timeout(deadline));
    if (rc < 0 && errno == EINTR)
      continue;
    revents = pfd.revents;
    return rc;
  }
}

} // namespace

client::client() = default;

client::~client() {
  close();
}

void client::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  tls_.reset();
  tls_pending_.clear();
  decoder_.reset();
}

void client::use_tls(std::shared_ptr<tls::context> ctx) {
  tls_ctx_ = std::move(ctx);
}

caf::error client::handshake(const std::string& host, clock::time_point deadline,
                             std::chrono::milliseconds timeout) {
  tls_ = std::make_unique<tls::channel>(tls_ctx_, host);
  for (;;) {
    auto out = tls_->take_output();
    if (!out.empty())
      if (auto err = send_wire(out, deadline, timeout))
        return err;
    if (tls_->established())
      return caf::none;
    if (auto err = receive_some(deadline, timeout))
      return err;
  }
}

caf::error client::io_error(const std::string& what) const {
  return make_llmos_error(error_code::io_failed, peer_ + ": " + what);
}

caf::error client::connect(const std::string& host, uint16_t port,
                           std::chrono::milliseconds timeout) {
  close();
  peer_ = format_peer(host, port);
  const auto deadline = clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0)
    return io_error(std::string{"cannot resolve host: "} + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  std::string last_error = "no address to connect to";
  // Try each address the name resolves to (IPv6 and IPv4 for "localhost"), all within one
  // deadline, as the caller asked for one timeout, not one per address.
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      short revents = 0;
      rc = poll_until(fd, POLLOUT, deadline, revents);
      if (rc == 0) {
        ::close(fd);
        last_error = "timed out after " + std::to_string(timeout.count()) + " ms";
        break;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      if (rc < 0)
        err = errno;
      else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc < 0) {
      last_error = errno_text(errno);
      ::close(fd);
      continue;
    }
    // Requests are small and latency-bound; Nagle would hold each one back for an ACK.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd_ = fd;
    next_id_ = 1;
    if (!tls_ctx_)
      return caf::none;
    if (auto err = handshake(host, deadline, timeout)) {
      close();
      return make_llmos_error(error_code::io_failed, "connect to " + peer_ + ": " + describe(err));
    }
    return caf::none;
  }
  return make_llmos_error(error_code::io_failed, "connect to " + peer_ + ": " + last_error);
}

caf::error client::receive_some(clock::time_point deadline, std::chrono::milliseconds timeout) {
  if (fd_ < 0)
    return io_error("not connected");
  short revents = 0;
  int rc = poll_until(fd_, POLLIN, deadline, revents);
  if (rc == 0)
    return io_error("no response within " + std::to_string(timeout.count()) + " ms");
  if (rc < 0) {
    auto err = io_error("poll: " + errno_text(errno));
    close();
    return err;
  }
  char buf[64 * 1024];
  for (;;) {
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0 && tls_) {
      std::string plain;
      auto err = tls_->feed(buf, static_cast<std::size_t>(n), plain);
      // Handshake messages, and rarely later a key update's answer: what TLS itself answers
      // goes out at once, or after the send this read interrupted (never inside its records).
      if (auto out = tls_->take_output(); !err && !out.empty()) {
        if (in_send_)
          tls_pending_ += out;
        else
          err = send_wire(out, deadline, timeout);
      }
      if (err) {
        close();
        return err;
      }
      decoder_.feed(plain.data(), plain.size());
      return caf::none;
    }
    if (n > 0) {
      decoder_.feed(buf, static_cast<std::size_t>(n));
      return caf::none;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return caf::none; // spurious wake-up: the caller polls again
    auto err = n == 0 ? io_error("connection closed by the server")
                      : io_error("recv: " + errno_text(errno));
    close();
    return err;
  }
}

caf::error client::send_all(std::string_view bytes, clock::time_point deadline,
                            std::chrono::milliseconds timeout) {
  if (!tls_)
    return send_wire(bytes, deadline, timeout);
  if (auto err = tls_->write(bytes)) {
    close();
    return err;
  }
  return send_wire(tls_->take_output(), deadline, timeout);
}

caf::error client::send_wire(std::string_view bytes, clock::time_point deadline,
                             std::chrono::milliseconds timeout) {
  in_send_ = true;
  auto err = send_bytes(bytes, deadline, timeout);
  in_send_ = false;
  if (err || tls_pending_.empty())
    return err;
  std::string pending;
  pending.swap(tls_pending_);
  return send_wire(pending, deadline, timeout);
}

caf::error client::send_bytes(std::string_view bytes, clock::time_point deadline,
                              std::chrono::milliseconds timeout) {
  if (fd_ < 0)
    return io_error("not connected");
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // While our send buffer is full, keep reading: a server blocked on writing responses we
      // do not read would stop reading our requests, and both sides would wait forever.
      short revents = 0;
      int rc = poll_until(fd_, POLLOUT | POLLIN, deadline, revents);
      if (rc == 0)
        return io_error("send timed out after " + std::to_string(timeout.count()) + " ms");
      if (rc > 0 && (revents & POLLIN) != 0)
        if (auto err = receive_some(deadline, timeout))
          return err;
      if (rc >= 0)
        continue;
    }
    auto err = io_error("send: " + errno_text(errno));
    close();
    return err;
  }
  return caf::none;
}

caf::expected<response> client::read_frame_until(clock::time_point deadline,
                                                 std::chrono::milliseconds timeout) {
  for (;;) {
    if (fd_ < 0)
      return io_error("not connected");
    auto item = decoder_.next();
    if (auto* res = std::get_if<response>(&item))
      return std::move(*res);
    if (auto* err = std::get_if<frame_error>(&item)) {
      auto code = err->what == frame_error::kind::too_large ? error_code::frame_too_large
                                                            : error_code::malformed_frame;
      auto out = make_llmos_error(code, peer_ + ": " + err->message);
      if (err->fatal)
        close();
      return out;
    }
    // Notifications (progress of a long call) go to the handler, and a call that reports
    // progress is alive: the timeout counts from its last sign of life, so a training run of
    // ten minutes that reports every few seconds is not cut off. Anything else a server sends
    // that is not a response is not part of this protocol and is skipped.
    if (auto* req = std::get_if<request>(&item)) {
      if (req->notification) {
        deadline = std::max(deadline, clock::now() + timeout);
        if (on_notification_)
          on_notification_(req->method, to_json(req->params));
      }
      continue;
    }
    if (auto err = receive_some(deadline, timeout))
      return err;
  }
}

caf::expected<response> client::read_frame(std::chrono::milliseconds timeout) {
  return read_frame_until(clock::now() + timeout, timeout);
}

caf::expected<call_result> client::read_response(std::chrono::milliseconds timeout) {
  auto res = read_frame(timeout);
  if (!res)
    return res.error();
  return to_result(*res);
}

caf::error client::send_raw(const std::string& bytes) {
  constexpr auto timeout = std::chrono::seconds(30);
  return send_all(bytes, clock::now() + timeout, timeout);
}

caf::expected<call_result> client::call(const std::string& method, const nlohmann::json& params,
                                        std::chrono::milliseconds timeout) {
  return call_packed(method, pack_json(params), timeout);
}

caf::error client::limit_calls(std::chrono::milliseconds limit) {
  auto r = call("timeout", nlohmann::json::array({limit.count()}), std::chrono::seconds(10));
  if (!r)
    return std::move(r.error());
  if (!r->ok)
    return make_llmos_error(error_code::bad_params,
                            peer_ + ": timeout: " + r->value.value("message", r->value.dump()));
  return caf::none;
}

caf::expected<call_result> client::call_packed(const std::string& method, const std::string& params,
                                               std::chrono::milliseconds timeout) {
  if (fd_ < 0)
    return io_error("not connected");
  const auto deadline = clock::now() + timeout;
  const uint32_t id = next_id_++;
  std::string frame;
  encode_request(frame, id, method, params);
  if (auto err = send_all(frame, deadline, timeout))
    return err;
  for (;;) {
    auto res = read_frame_until(deadline, timeout);
    if (!res)
      return res.error();
    // An earlier call that timed out may still be answered; its response arrives before ours
    // and belongs to nobody now.
    if (res->msgid != id)
      continue;
    return to_result(*res);
  }
}

caf::expected<std::size_t> client::call_many(const std::string& method,
                                             const std::string& packed_params, std::size_t count,
                                             std::size_t window,
                                             std::chrono::milliseconds timeout) {
  if (fd_ < 0)
    return io_error("not connected");
  if (count > std::numeric_limits<uint32_t>::max())
    return make_llmos_error(error_code::bad_params,
                            "call_many: count " + std::to_string(count) +
                                " exceeds the 32-bit msgid space; split the batch");
  window = std::max<std::size_t>(window, 1);
  const uint32_t first_id = next_id_;
  next_id_ += static_cast<uint32_t>(count);
  // Duplicates and stray msgids (late answers to earlier calls) must not count as progress.
  std::vector<bool> answered(count, false);
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t succeeded = 0;
  std::string batch;
  while (received < count) {
    batch.clear();
    // Top the window up in one send: one syscall for many small requests.
    for (; sent < count && sent - received < window; ++sent)
      encode_request(batch, first_id + static_cast<uint32_t>(sent), method, packed_params);
    if (!batch.empty())
      if (auto err = send_all(batch, clock::now() + timeout, timeout))
        return err;
    auto res = read_frame_until(clock::now() + timeout, timeout);
    if (!res)
      return res.error();
    const uint32_t index = res->msgid - first_id; // wraps with the msgids
    if (index >= count || answered[index])
      continue;
    answered[index] = true;
    ++received;
    if (res->error.type == msgpack::type::NIL)
      ++succeeded;
  }
  return succeeded;
}

} // namespace llmos::rpc
