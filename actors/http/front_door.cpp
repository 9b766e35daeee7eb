#include "http/front_door.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/door_stream.hpp"
#include "http/request_head.hpp"
#include "llmos/runtime/serving_load.hpp"

namespace llmos::http {
namespace {

using clock = door_clock;

/// Set by the logger on a worker thread when the response it wrote says `Connection: close`.
thread_local bool close_requested = false;
/// The socket of the request a worker thread is processing (guarded_server::current_socket).
thread_local int processing_socket = -1;

/// cpp-httplib's task queue: each accepted socket is registered at once on the accepting thread.
class inline_queue final : public httplib::TaskQueue {
public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

/// A connection waiting for (the rest of) a request head.
struct waiting_conn {
  waiting_conn(std::unique_ptr<door_connection> c, std::string bytes, clock::time_point until,
               bool started)
      : conn(std::move(c)), buffer(std::move(bytes)), deadline(until), head_started(started) {}
  std::unique_ptr<door_connection> conn;
  std::string buffer; ///< bytes received (plaintext) and not yet processed
  clock::time_point deadline;
  bool head_started = false;
  head_scanner head;
  std::size_t body = 0; ///< bytes of body collected here after the head
};

} // namespace

/// The poll thread that collects request heads and the workers that process them.
class front_door {
public:
  front_door(guarded_server& server, front_door_limits lim, std::shared_ptr<tls::context> tls)
      : server_(server), lim_(lim), tls_(std::move(tls)) {
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
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    auto conn = std::make_unique<door_connection>(fd, tls_);
    if (open_.load() >= lim_.max_connections) {
      // Over TLS this says nothing (no handshake yet): the client sees the connection close.
      conn->refuse(503, "Service Unavailable",
                   std::to_string(lim_.max_connections) +
                       " connections are open, the gateway's limit (max_connections)");
      ::close(fd);
      return;
    }
    ++open_;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    to_receiver(waiting_conn{std::move(conn), {}, clock::now() + lim_.idle_timeout, false});
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
      finish(c);
    for (auto& c : ready_)
      finish(c); // (a second close returns above: none is finished twice)
  }

  std::size_t open() const { return open_.load(); }

private:
  void wake() {
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &byte, 1);
  }

  void finish(waiting_conn& c) {
    ::close(c.conn->fd());
    --open_;
  }

  void to_receiver(waiting_conn c) {
    {
      std::lock_guard lock{mutex_};
      if (stopping_) {
        finish(c);
        return;
      }
      incoming_.push_back(std::move(c));
    }
    wake();
  }

  /// Whether a worker can take `c`: its head is complete and so is the body it declares by
  /// Content-Length, up to `max_collected_body` bytes (a client trickling its body holds no
  /// worker either: it has `body_timeout` from the end of its head), all such bodies within
  /// `max_collected_total`; other bodies are read by the worker. Poll thread only.
  bool ready(waiting_conn& c) {
    const bool had_head = c.head.end() > 0;
    if (!c.head.complete(c.buffer))
      return false;
    if (!had_head) {
      const auto length = body_to_collect(std::string_view{c.buffer}.substr(0, c.head.end()));
      if (length <= lim_.max_collected_body && collecting_ + length <= lim_.max_collected_total) {
        c.body = length;
        collecting_ += length;
      }
      c.deadline = clock::now() + lim_.body_timeout;
    }
    return c.buffer.size() >= c.head.end() + c.body;
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

  /// Reads what `c`'s socket holds (with TLS: its handshake, answered at once, counts as the
  /// head's first bytes); false when the connection is over (closed, failed, TLS broken, or
  /// refused for a head too large).
  bool receive(waiting_conn& c) {
    for (;;) {
      const auto got = c.conn->receive(c.buffer);
      if (got == door_connection::received::nothing)
        return true;
      if (got == door_connection::received::closed) {
        c.conn->flush(); // a TLS alert saying why, when there is one
        return false;
      }
      if (!c.head_started) {
        c.head_started = true;
        c.deadline = clock::now() + lim_.head_timeout;
      }
      if (!c.conn->flush())
        return false;
      if (ready(c))
        return true;
      if (c.head.end() == 0 && c.buffer.size() > lim_.max_head_bytes) {
        c.conn->refuse(431, "Request Header Fields Too Large",
                       "the request line and headers are longer than " +
                           std::to_string(lim_.max_head_bytes) + " bytes");
        return false;
      }
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
      finish(c);
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
      // A TLS handshake's answer the socket could not take at once waits for room.
      const short events = c.conn->pending() ? POLLIN | POLLOUT : POLLIN;
      fds.push_back(pollfd{c.conn->fd(), events, 0});
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
      const auto revents = fds[i + 1].revents;
      if ((revents & POLLOUT) != 0 && !c.conn->flush()) {
        unreserve(c);
        finish(c);
        continue;
      }
      if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (!receive(c)) {
          unreserve(c);
          finish(c);
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
    if (c.head.end() > 0) // a body trickling in too slowly
      c.conn->refuse(408, "Request Timeout",
                     "the request body did not arrive within " +
                         std::to_string(lim_.body_timeout.count()) + " ms of its head");
    else if (c.head_started) // a head trickling in too slowly (or a half-sent one)
      c.conn->refuse(408, "Request Timeout",
                     "the request line and headers did not arrive within " +
                         std::to_string(lim_.head_timeout.count()) + " ms");
    unreserve(c);
    finish(c);
  }

  void work_loop() {
    for (;;) {
      std::unique_lock lock{mutex_};
      ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (stopping_)
        return;
      auto c = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      door_stream strm{*c.conn, std::move(c.buffer), lim_.io_timeout,
                       clock::now() + lim_.body_timeout};
      bool close_after = false;
      const bool ok = server_.process_one(strm, close_after);
      if (!ok || close_after)
        finish(c);
      else if (auto rest = without_leading_crlf(strm.leftover()); rest.empty())
        to_receiver(waiting_conn{std::move(c.conn), {}, clock::now() + lim_.idle_timeout, false});
      else // part of a pipelined request: its head is under way
        to_receiver(waiting_conn{std::move(c.conn), std::move(rest),
                                 clock::now() + lim_.head_timeout, true});
    }
  }

  guarded_server& server_;
  front_door_limits lim_;
  std::shared_ptr<tls::context> tls_; ///< null: plain HTTP
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

guarded_server::guarded_server(front_door_limits limits, std::shared_ptr<tls::context> tls)
    : door_(std::make_unique<front_door>(*this, limits, std::move(tls))) {
  new_task_queue = [] { return new inline_queue; };
  // cpp-httplib keeps its listening socket private; its socket options hook sees it made.
  set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;
  });
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

bool guarded_server::widen_backlog() {
  const int fd = listen_fd_.load();
  return fd >= 0 && ::listen(fd, SOMAXCONN) == 0;
}

int guarded_server::current_socket() {
  return processing_socket;
}

bool guarded_server::process_and_close_socket(socket_t sock) {
  door_->admit(sock);
  return true;
}

bool guarded_server::process_one(httplib::Stream& strm, bool& close_after) {
  const serving_load::scope serving; // the RPC port gives way meanwhile (serving_load.hpp)
  close_requested = false;
  processing_socket = strm.socket();
  bool connection_closed = false;
  const bool ok = process_request(strm, false, connection_closed, nullptr);
  processing_socket = -1;
  close_after = connection_closed || close_requested;
  return ok;
}

} // namespace llmos::http
