// One connection of the front door as bytes of HTTP: the socket itself, or a TLS channel over it
// when the gateway serves HTTPS. The front door's poll thread and its workers both move bytes
// through this (never at once: a connection is in one place at a time), so HTTPS gets the same
// bounds as plain HTTP: its handshake and head are collected in the poll thread without a
// worker, where cpp-httplib's SSLServer held a worker thread per connection from accept to close.
// TLS runs over memory buffers (llmos/runtime/tls_channel.hpp): the socket stays non-blocking and
// its waits stay ours.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "llmos/runtime/tls_channel.hpp"

namespace llmos::http {

class door_connection {
public:
  /// `fd`: a non-blocking socket (not owned: the front door closes it and counts it);
  /// `tls`: the server's TLS settings, or null for plain HTTP.
  door_connection(int fd, const std::shared_ptr<tls::context>& tls);

  int fd() const { return fd_; }
  bool secure() const { return channel_ != nullptr; }

  /// What one non-blocking receive gave.
  enum class received {
    bytes,   ///< bytes arrived (plaintext, if any, was appended)
    nothing, ///< none now (would block)
    closed,  ///< the peer closed, the socket failed, or TLS broke (see why())
  };
  /// Receives what the socket holds now without waiting; plaintext is appended to `plaintext`
  /// (a TLS record may complete none). Handshake answers are queued for flush().
  received receive(std::string& plaintext);

  /// Queues `plaintext` to be sent (encrypted with TLS; held until the handshake ends).
  bool queue(std::string_view plaintext);

  /// Sends what is queued without waiting; false when the socket failed. pending() tells
  /// whether bytes remain (the socket is full).
  bool flush();
  bool pending() const { return sent_ < out_.size(); }

  /// A whole error response with `Connection: close`, sent without waiting (best effort: the
  /// connection is closed right after; over TLS only once the handshake ended), then our side
  /// shut down.
  void refuse(int status, const char* phrase, const std::string& reason);

  /// Why the connection ended ("" when the peer just closed).
  const std::string& why() const { return why_; }

private:
  void take_channel_output();
  void append(std::string_view bytes);

  int fd_;
  std::unique_ptr<tls::channel> channel_;
  std::string out_;      ///< bytes for the socket (ciphertext with TLS)
  std::size_t sent_ = 0; ///< of out_
  std::string why_;
};

} // namespace llmos::http
