// One request's connection as cpp-httplib's request processing (on a front door worker) reads
// and writes it: first the plaintext the poll thread already received, then the connection,
// every wait bounded, so a client that stops reading or sending frees the worker in time.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <httplib.h>

#include "http/door_connection.hpp"

namespace llmos::http {

using door_clock = std::chrono::steady_clock;

/// Milliseconds from now until `t` for poll(): 0 when past, at most a minute.
int millis_until(door_clock::time_point t);

/// Waits until `fd` has one of `events` (or hung up or failed); false when `limit` passed.
bool wait_for(int fd, short events, door_clock::time_point limit);

class door_stream final : public httplib::Stream {
public:
  /// `io_timeout`: one wait to send or receive; `body_deadline`: the whole request's reading.
  door_stream(door_connection& conn, std::string buffered, std::chrono::milliseconds io_timeout,
              door_clock::time_point body_deadline);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return conn_.fd(); }

  /// Plaintext received past the request just processed (a pipelined next request).
  std::string leftover() const { return buf_.substr(pos_); }

private:
  door_clock::time_point read_limit() const;
  /// Sends everything queued on the connection, each wait within io_timeout.
  bool flush_all();

  door_connection& conn_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::chrono::milliseconds io_timeout_;
  door_clock::time_point body_deadline_;
};

} // namespace llmos::http
