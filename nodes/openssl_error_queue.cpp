#include "openssl_error_queue.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

// CAF 0.17.6's OpenSSL session never empties the thread's OpenSSL error queue: when a TLS call
// fails it returns without ERR_get_error (the drain sits in a log statement Debian compiles out).
// All TLS connections of a node share the middleman's one thread, so an error left by one
// connection (a peer killed without close_notify, a handshake refused for a wrong CA, a redundant
// connection CAF closes) makes SSL_get_error report SSL_ERROR_SSL for the next harmless
// WANT_READ on any other connection, and CAF drops that healthy connection too: two TLS nodes
// never stayed connected. OpenSSL asks callers to clear the queue before each TLS I/O call; CAF
// does not, so these definitions interpose the four calls CAF makes (an executable's symbols
// take precedence over libssl's) and clear the queue before forwarding to libssl. They live in
// this file, which node.cpp pulls into every program that starts a node by calling
// link_openssl_error_queue_fix() (a static library member nobody references is not linked).
namespace {

template <class Fn> Fn* next_ssl_symbol(const char* name) {
  return reinterpret_cast<Fn*>(::dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
  static auto* next = next_ssl_symbol<int(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

extern "C" int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto* next = next_ssl_symbol<int(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

extern "C" int SSL_accept(SSL* ssl) {
  static auto* next = next_ssl_symbol<int(SSL*)>("SSL_accept");
  ERR_clear_error();
  return next(ssl);
}

extern "C" int SSL_connect(SSL* ssl) {
  static auto* next = next_ssl_symbol<int(SSL*)>("SSL_connect");
  ERR_clear_error();
  return next(ssl);
}

namespace llmos {

void link_openssl_error_queue_fix() {}

} // namespace llmos
