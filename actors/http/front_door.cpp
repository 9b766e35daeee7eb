#include "http/front_door.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/http_errors.hpp"
#include "http/process_sockets.hpp"

namespace llmos::http {
namespace {

using clock = std::chrono::steady_clock;

/// Set by the logger on a worker thread when the response it wrote says `Connection: close`.
thread_local bool close_requested = false;

/// cpp-httplib hands each accepted socket to its task queue; this one runs the hand-over at
/// once on the accepting thread (the front door only registers the socket).
class inline_queue final : public httplib::TaskQueue {
public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

/// A connection waiting for (the rest of) a request head.
struct waiting_conn {
  int fd = -1;
  std::string buffer; ///< bytes received and not yet processed
  clock::time_point deadline;
  bool head_started = false;
  std::size_t scanned = 0;  ///< bytes of buffer known to hold no end of head
  std::size_t head_end = 0; ///< bytes of the head once its blank line arrived (0: not yet)
  std::size_t body = 0;     ///< bytes of body collected here after the head
};

/// Whether the head in `c.buffer` is complete: a blank line ending in CRLF (cpp-httplib skips
/// header lines that end in a bare LF and reads on, so "\n\n" is no end for it). Searches only
/// what arrived since the last look.
bool head_complete(waiting_conn& c) {
  if (c.head_end > 0)
    return true;
  const auto from = c.scanned > 3 ? c.scanned - 3 : 0;
  if (auto end = c.buffer.find("\r\n\r\n", from); end != std::string::npos) {
    c.head_end = end + 4;
    return true;
  }
  c.scanned = c.buffer.size();
  return false;
}

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  return line.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), line.begin(), [](char lower, char c) {
           return std::tolower(static_cast<unsigned char>(c)) == lower;
         });
}

/// The body length a head declares when the front door may collect the body itself: by one
/// well-formed Content-Length, without Transfer-Encoding, Content-Encoding (refused or inflated
/// by the worker from the head alone) or `Expect` (such a client waits for the worker's 100
/// Continue before it sends). 0 otherwise: the worker reads (or refuses) whatever follows.
std::size_t body_to_collect(std::string_view head) {
  std::size_t length = 0;
  int lengths = 0;
  for (std::size_t pos = head.find("\r\n");
       pos != std::string_view::npos && pos + 2 < head.size();) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line =
        head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    if (starts_with_nocase(line, "transfer-encoding:") || starts_with_nocase(line, "expect:") ||
        starts_with_nocase(line, "content-encoding:"))
      return 0;
    if (starts_with_nocase(line, "content-length:")) {
      auto value = line.substr(15);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      if (value.empty() || value.size() > 12 ||
          value.find_first_not_of("0123456789") != std::string_view::npos)
        return 0;
      length = std::stoull(std::string{value});
      ++lengths;
    }
    pos = next;
  }
  return lengths == 1 ? length : 0;
}

/// A whole error response with `Connection: close`, written without waiting (best effort: the
/// connection is closed right after).
void refuse_now(int fd, int status, const char* phrase, const std::string& reason) {
  const auto body = error_body(status, reason);
  const auto text =
      "HTTP/1.1 " + std::to_string(status) + " " + phrase +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  [[maybe_unused]] auto sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Closing with unread input makes the kernel reset the connection, and the client would
  // likely lose the answer: end our side, and drop what is there to read now (bounded).
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 256 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

/// A body's stray CRLF (some clients add one after a POST body) is not the start of a request.
std::string without_leading_crlf(std::string bytes) {
  const auto start = bytes.find_first_not_of("\r\n");
  return start == std::string::npos ? std::string{} : bytes.substr(start);
}

int millis_until(clock::time_point t) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(t - clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

bool wait_for(int fd, short events, clock::time_point limit) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, millis_until(limit));
    if (rc < 0 && errno == EINTR)
      continue;
    return rc > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

/// One connection as cpp-httplib's request processing reads and writes it: first the bytes the
/// front door already received, then the socket, every wait bounded.
class connection_stream final : public httplib::Stream {
public:
  connection_stream(int fd, std::string buffered, const front_door_limits& lim)
      : fd_(fd), buf_(std::move(buffered)), lim_(lim),
        body_deadline_(clock::now() + lim.body_timeout) {}

  bool is_readable() const override {
    return pos_ < buf_.size() || wait_for(fd_, POLLIN, read_limit());
  }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, clock::now() + lim_.io_timeout);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < buf_.size()) {
      const auto n = std::min(size, buf_.size() - pos_);
      std::copy_n(buf_.data() + pos_, n, ptr);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    for (;;) {
      const auto n = ::recv(fd_, ptr, size, 0);
      if (n >= 0)
        return n;
      if (errno == EINTR)
        continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(fd_, POLLIN, read_limit()))
        return -1;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    size_t off = 0;
    while (off < size) {
      const auto n = ::send(fd_, ptr + off, size - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
          wait_for(fd_, POLLOUT, clock::now() + lim_.io_timeout))
        continue;
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

  /// Bytes received past the request just processed (a pipelined next request).
  std::string leftover() const { return buf_.substr(pos_); }

private:
  clock::time_point read_limit() const {
    return std::min(clock::now() + lim_.io_timeout, body_deadline_);
  }

  template <class Fn> void address_of(Fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (fn(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    ip = host_of(addr, len);
    port = port_of(addr);
  }

  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  const front_door_limits& lim_;
  clock::time_point body_deadline_;
};

} // namespace

/// The poll thread that collects request heads and the workers that process them.
class front_door {
public:
  front_door(guarded_server& server, front_door_limits lim) : server_(server), lim_(lim) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
      wake_[0] = wake_[1] = -1;
    receiver_ = std::thread{[this] { receive_loop(); }};
    for (unsigned i = 0; i < std::max(1u, lim_.workers); ++i)
      workers_.emplace_back([this] { work_loop(); });
  }

  ~front_door() {
    close();
    for (int fd : wake_)
      if (fd >= 0)
        ::close(fd);
  }

  void admit(int fd) {
    if (open_.load() >= lim_.max_connections) {
      refuse_now(fd, 503, "Service Unavailable",
                 std::to_string(lim_.max_connections) +
                     " connections are open, the gateway's limit (max_connections)");
      ::close(fd);
      return;
    }
    ++open_;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    to_receiver(waiting_conn{fd, {}, clock::now() + lim_.idle_timeout, false});
  }

  void close() {
    {
      std::lock_guard lock{mutex_};
      if (stopping_)
        return;
      stopping_ = true;
    }
    ready_cv_.notify_all();
    wake();
    if (receiver_.joinable())
      receiver_.join();
    for (auto& w : workers_)
      if (w.joinable())
        w.join();
    std::lock_guard lock{mutex_};
    for (auto& c : incoming_)
      finish(c.fd);
    for (auto& c : ready_)
      finish(c.fd);
    incoming_.clear();
    ready_.clear();
  }

  std::size_t open() const { return open_.load(); }

private:
  void wake() {
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &byte, 1);
  }

  void finish(int fd) {
    ::close(fd);
    --open_;
  }

  void to_receiver(waiting_conn c) {
    {
      std::lock_guard lock{mutex_};
      if (stopping_) {
        finish(c.fd);
        return;
      }
      incoming_.push_back(std::move(c));
    }
    wake();
  }

  /// Whether a worker can take `c`: its head is complete and, when the head declares a body of
  /// at most `max_collected_body` bytes by Content-Length, the body has arrived too, so that a
  /// client trickling its body holds no worker either (it has `body_timeout` from the end of
  /// its head). Bodies collected here hold at most `max_collected_total` bytes together; other
  /// bodies (longer, chunked, or beyond that total) are read by the worker, within the same
  /// limit. Runs on the poll thread only.
  bool ready(waiting_conn& c) {
    const bool had_head = c.head_end > 0;
    if (!head_complete(c))
      return false;
    if (!had_head) {
      const auto length = body_to_collect(std::string_view{c.buffer}.substr(0, c.head_end));
      if (length <= lim_.max_collected_body && collecting_ + length <= lim_.max_collected_total) {
        c.body = length;
        collecting_ += length;
      }
      c.deadline = clock::now() + lim_.body_timeout;
    }
    return c.buffer.size() >= c.head_end + c.body;
  }

  /// `c` leaves the poll thread: what it reserved for its body is free again.
  void unreserve(waiting_conn& c) {
    collecting_ -= c.body;
    c.body = 0;
  }

  void to_worker(waiting_conn c) {
    unreserve(c);
    {
      std::lock_guard lock{mutex_};
      ready_.push_back(std::move(c));
    }
    ready_cv_.notify_one();
  }

  /// Reads what `c`'s socket holds; false when the connection is over (closed, failed, or
  /// refused for a head too large).
  bool receive(waiting_conn& c) {
    char chunk[16 * 1024];
    for (;;) {
      const auto n = ::recv(c.fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        if (!c.head_started) {
          c.head_started = true;
          c.deadline = clock::now() + lim_.head_timeout;
        }
        c.buffer.append(chunk, static_cast<size_t>(n));
        if (ready(c))
          return true;
        if (c.head_end == 0 && c.buffer.size() > lim_.max_head_bytes) {
          refuse_now(c.fd, 431, "Request Header Fields Too Large",
                     "the request line and headers are longer than " +
                         std::to_string(lim_.max_head_bytes) + " bytes");
          return false;
        }
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }

  void receive_loop() {
    std::vector<waiting_conn> waiting;
    std::vector<pollfd> fds;
    while (take_arrivals(waiting)) {
      if (!poll_waiting(waiting, fds))
        continue;
      if ((fds[0].revents & POLLIN) != 0)
        drain_wake();
      waiting = serve_polled(std::move(waiting), fds);
    }
    for (auto& c : waiting) {
      unreserve(c);
      finish(c.fd);
    }
  }

  /// New and returning connections join `waiting`, or go to a worker when a request is
  /// already whole; false once the door closes.
  bool take_arrivals(std::vector<waiting_conn>& waiting) {
    std::vector<waiting_conn> arrived;
    {
      std::lock_guard lock{mutex_};
      if (stopping_)
        return false;
      arrived.swap(incoming_);
    }
    // A connection back from a worker may hold its next (pipelined) request already; only the
    // arrivals are looked at, not every waiting buffer again.
    for (auto& c : arrived) {
      if (ready(c))
        to_worker(std::move(c));
      else
        waiting.push_back(std::move(c));
    }
    return true;
  }

  /// Waits for bytes on the waiting connections (fds[0] is the wake pipe) until the nearest
  /// deadline; false when the poll failed (looked at again shortly: never stop serving).
  bool poll_waiting(const std::vector<waiting_conn>& waiting, std::vector<pollfd>& fds) {
    fds.assign(1, pollfd{wake_[0], POLLIN, 0});
    auto next = clock::now() + std::chrono::seconds(60);
    for (const auto& c : waiting) {
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      next = std::min(next, c.deadline);
    }
    if (::poll(fds.data(), fds.size(), millis_until(next)) >= 0)
      return true;
    if (errno != EINTR) // no memory for the poll set
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return false;
  }

  void drain_wake() {
    char bytes[256];
    while (::read(wake_[0], bytes, sizeof bytes) > 0) {
    }
  }

  /// Reads what came; a whole request goes to a worker, a connection past its deadline is
  /// answered 408 and closed. Returns those still waiting.
  std::vector<waiting_conn> serve_polled(std::vector<waiting_conn> waiting,
                                         const std::vector<pollfd>& fds) {
    const auto now = clock::now();
    std::vector<waiting_conn> still;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      auto& c = waiting[i];
      if ((fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (!receive(c)) {
          unreserve(c);
          finish(c.fd);
          continue;
        }
        if (ready(c)) {
          to_worker(std::move(c));
          continue;
        }
      }
      if (now >= c.deadline) {
        time_out(c);
        continue;
      }
      still.push_back(std::move(c));
    }
    return still;
  }

  void time_out(waiting_conn& c) {
    if (c.head_end > 0) // a body trickling in too slowly
      refuse_now(c.fd, 408, "Request Timeout",
                 "the request body did not arrive within " +
                     std::to_string(lim_.body_timeout.count()) + " ms of its head");
    else if (c.head_started) // a head trickling in too slowly (or a half-sent one)
      refuse_now(c.fd, 408, "Request Timeout",
                 "the request line and headers did not arrive within " +
                     std::to_string(lim_.head_timeout.count()) + " ms");
    unreserve(c);
    finish(c.fd);
  }

  void work_loop() {
    for (;;) {
      waiting_conn c;
      {
        std::unique_lock lock{mutex_};
        ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
        if (stopping_)
          return;
        c = std::move(ready_.front());
        ready_.pop_front();
      }
      connection_stream strm{c.fd, std::move(c.buffer), lim_};
      bool close_after = false;
      const bool ok = server_.process_one(strm, close_after);
      if (!ok || close_after)
        finish(c.fd);
      else if (auto rest = without_leading_crlf(strm.leftover()); rest.empty())
        to_receiver(waiting_conn{c.fd, {}, clock::now() + lim_.idle_timeout, false});
      else // part of a pipelined request: its head is under way
        to_receiver(waiting_conn{c.fd, std::move(rest), clock::now() + lim_.head_timeout, true});
    }
  }

  guarded_server& server_;
  front_door_limits lim_;
  std::atomic<std::size_t> open_{0};
  std::size_t collecting_ = 0; ///< body bytes reserved by waiting connections (poll thread)
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::vector<waiting_conn> incoming_;
  std::deque<waiting_conn> ready_;
  std::condition_variable ready_cv_;
  bool stopping_ = false;
  std::thread receiver_;
  std::vector<std::thread> workers_;
};

guarded_server::guarded_server(front_door_limits limits)
    : door_(std::make_unique<front_door>(*this, limits)) {
  new_task_queue = [] { return new inline_queue; };
}

guarded_server::~guarded_server() {
  door_->close();
}

void guarded_server::close() {
  door_->close();
}

void guarded_server::note_response(const httplib::Response& res) {
  if (res.get_header_value("Connection") == "close")
    close_requested = true;
}

std::size_t guarded_server::open_connections() const {
  return door_->open();
}

bool guarded_server::process_and_close_socket(socket_t sock) {
  door_->admit(sock);
  return true;
}

bool guarded_server::process_one(httplib::Stream& strm, bool& close_after) {
  close_requested = false;
  bool connection_closed = false;
  const bool ok = process_request(strm, false, connection_closed, nullptr);
  close_after = connection_closed || close_requested;
  return ok;
}

} // namespace llmos::http
