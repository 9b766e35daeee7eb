#include "llmos/runtime/tls_channel.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "llmos/messages/error.hpp"

namespace llmos::tls {
namespace {

/// OpenSSL's reasons queued by the last failure, oldest first ("" when none).
std::string openssl_reasons() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char text[256] = {};
    ERR_error_string_n(code, text, sizeof text);
    out += (out.empty() ? "" : "; ") + std::string{text};
  }
  return out;
}

caf::error tls_error(const std::string& what) {
  return make_llmos_error(error_code::io_failed, "TLS: " + what);
}

/// A new OpenSSL context for one end of a connection; both ends refuse anything older than
/// TLS 1.2, so the floor is set here and nowhere else.
caf::expected<SSL_CTX*> new_ssl_ctx(const SSL_METHOD* method) {
  ERR_clear_error();
  auto* ctx = SSL_CTX_new(method);
  if (ctx == nullptr)
    return tls_error("cannot create a context: " + openssl_reasons());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  return ctx;
}

} // namespace

caf::expected<std::shared_ptr<context>> context::server(const std::string& certificate,
                                                        const std::string& key) {
  auto made = new_ssl_ctx(TLS_server_method());
  if (!made)
    return std::move(made.error());
  auto* ctx = *made;
  std::shared_ptr<context> out{new context(ctx, true)};
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate.c_str()) != 1)
    return tls_error("cannot load the certificate '" + certificate +
                     "' (a PEM certificate chain): " + openssl_reasons());
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return tls_error("cannot load the key '" + key +
                     "' (the PEM private key of that certificate): " + openssl_reasons());
  if (SSL_CTX_check_private_key(ctx) != 1) {
    openssl_reasons(); // empties the queue for the next caller on this thread
    return tls_error("the key '" + key + "' does not belong to the certificate '" + certificate +
                     "'");
  }
  return out;
}

caf::expected<std::shared_ptr<context>> context::client(const std::string& ca_file) {
  auto made = new_ssl_ctx(TLS_client_method());
  if (!made)
    return std::move(made.error());
  auto* ctx = *made;
  std::shared_ptr<context> out{new context(ctx, false)};
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
    return tls_error("cannot load the CA file '" + ca_file +
                     "' (PEM certificates): " + openssl_reasons());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return out;
}

context::~context() {
  SSL_CTX_free(ctx_);
}

channel::channel(std::shared_ptr<context> ctx, const std::string& server_name)
    : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_->native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, in_, out_);
  if (ctx_->is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (!server_name.empty()) {
    in6_addr probe{};
    const bool is_ip = ::inet_pton(AF_INET, server_name.c_str(), &probe) == 1 ||
                       ::inet_pton(AF_INET6, server_name.c_str(), &probe) == 1;
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, server_name.c_str());
      SSL_set1_host(ssl_, server_name.c_str());
    }
  }
  // The client speaks first: its hello is output at once.
  advance();
}

channel::~channel() {
  SSL_free(ssl_); // frees both memory BIOs
}

caf::error channel::failure(const std::string& what, int rc) {
  const int code = SSL_get_error(ssl_, rc);
  if (code == SSL_ERROR_ZERO_RETURN)
    return tls_error("the peer closed the connection");
  std::string why = openssl_reasons();
  if (!ctx_->is_server() && SSL_get_verify_result(ssl_) != X509_V_OK)
    why = std::string{"the server's certificate: "} +
          X509_verify_cert_error_string(SSL_get_verify_result(ssl_)) +
          (why.empty() ? "" : " (" + why + ")");
  return tls_error(what + (why.empty() ? "" : ": " + why));
}

caf::error channel::advance() {
  if (established_)
    return caf::none;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    std::string held;
    held.swap(held_);
    return held.empty() ? caf::none : write(held);
  }
  const int code = SSL_get_error(ssl_, rc);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
    return caf::none;
  return failure("handshake failed", rc);
}

caf::error channel::feed(const char* data, std::size_t size, std::string& plaintext) {
  if (size > 0 && BIO_write(in_, data, static_cast<int>(size)) != static_cast<int>(size))
    return tls_error("cannot buffer " + std::to_string(size) + " received bytes");
  if (auto err = advance())
    return err;
  if (!established_)
    return caf::none;
  char buf[16 * 1024];
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plaintext.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    const int code = SSL_get_error(ssl_, n);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
      return caf::none;
    return failure("cannot read", n);
  }
}

caf::error channel::write(std::string_view plaintext) {
  if (!established_) {
    held_.append(plaintext);
    return caf::none;
  }
  std::size_t off = 0;
  while (off < plaintext.size()) {
    ERR_clear_error();
    // SSL_write takes an int: large answers go in pieces.
    const auto piece = std::min<std::size_t>(plaintext.size() - off, 1u << 30);
    const int n = SSL_write(ssl_, plaintext.data() + off, static_cast<int>(piece));
    if (n <= 0)
      return failure("cannot write", n);
    off += static_cast<std::size_t>(n);
  }
  return caf::none;
}

std::string channel::take_output() {
  std::string out;
  const auto pending = BIO_ctrl_pending(out_);
  if (pending == 0)
    return out;
  out.resize(pending);
  const int n = BIO_read(out_, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

} // namespace llmos::tls
