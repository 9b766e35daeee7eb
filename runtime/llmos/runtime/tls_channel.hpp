// TLS for sockets the program drives itself (the msgpack-RPC gateway, a CAF broker, and the
// blocking RPC client): OpenSSL over memory buffers, so the owner keeps its own I/O loop and
// moves bytes between the socket and a channel. CAF 0.17's OpenSSL module only covers the node
// port (BASP), not brokers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace llmos::tls {

/// Settings shared by many connections (OpenSSL's SSL_CTX): a server's certificate and key, or a
/// client's trusted CA.
class context {
public:
  /// A server presenting the certificate chain and key in these PEM files; errors name the file.
  static caf::expected<std::shared_ptr<context>> server(const std::string& certificate,
                                                        const std::string& key);
  /// A client trusting the CA certificates in this PEM file and checking the server's name.
  static caf::expected<std::shared_ptr<context>> client(const std::string& ca_file);

  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  bool is_server() const { return server_; }
  ssl_ctx_st* native() const { return ctx_; }

private:
  context(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  ssl_ctx_st* ctx_;
  bool server_;
};

/// One TLS connection over memory buffers. Not thread-safe: one owner drives it.
class channel {
public:
  /// `server_name` (clients only): the host the client dialled, checked against the server's
  /// certificate (a DNS name or an IP address) and sent as SNI.
  explicit channel(std::shared_ptr<context> ctx, const std::string& server_name = {});
  ~channel();
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  /// Bytes received from the peer. Application data they complete is appended to `plaintext`;
  /// an error (with OpenSSL's reason) when they break TLS or the handshake fails. Afterwards,
  /// send what take_output() holds (handshake answers).
  caf::error feed(const char* data, std::size_t size, std::string& plaintext);

  /// Application data to send; held until the handshake ends.
  caf::error write(std::string_view plaintext);

  /// Bytes to send to the peer now; empty when there are none.
  std::string take_output();

  /// True once the handshake completed.
  bool established() const { return established_; }

private:
  caf::error advance();
  caf::error failure(const std::string& what, int rc);

  std::shared_ptr<context> ctx_;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;  ///< owned by ssl_
  bio_st* out_ = nullptr; ///< owned by ssl_
  bool established_ = false;
  std::string held_; ///< plaintext written before the handshake ended
};

} // namespace llmos::tls
