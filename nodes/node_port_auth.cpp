#include "node_port_auth.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "llmos/runtime/log.hpp"
#include "llmos/runtime/topology.hpp"

namespace llmos {
namespace {

/// A node port as peers see it: numeric address and port.
struct node_address {
  std::string ip;
  uint16_t port = 0;
  std::string name;
};

/// What the node ports of this process accept; filled at node start, read on the middleman's
/// thread during handshakes.
struct peer_policy {
  std::shared_mutex mutex;
  std::set<std::string> names;
  std::vector<node_address> addresses;
  std::string psk_identity; ///< empty = no cluster secret
  std::array<unsigned char, 32> psk{};
};

peer_policy& policy() {
  static peer_policy p;
  return p;
}

/// CAF's OpenSSL session makes the calls we adjust; cpp-httplib (HTTPS gateway) makes the same
/// calls for its own contexts, which must stay as they are.
bool called_from_caf(const void* return_address) {
  Dl_info info{};
  return ::dladdr(return_address, &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libcaf_openssl") != nullptr;
}

std::vector<std::string> numeric_addresses(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0)
    return out;
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (::inet_ntop(a->ai_family, raw, text, sizeof text) != nullptr)
      out.emplace_back(text);
  }
  ::freeaddrinfo(found);
  return out;
}

/// The peer's address of a connected socket, as "ip" and port.
bool peer_of(int fd, std::string& ip, uint16_t& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return false;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  ip = text;
  return true;
}

/// The names a peer's certificate may carry: the node listening at the address this node
/// dialled, or (for a peer that dialled us, whose port says nothing) any node of the topology.
std::vector<std::string> names_expected(SSL* ssl, std::string& where) {
  auto& p = policy();
  std::shared_lock lock{p.mutex};
  std::string ip;
  uint16_t port = 0;
  if (peer_of(SSL_get_fd(ssl), ip, port)) {
    where = ip + ":" + std::to_string(port);
    if (SSL_is_server(ssl) == 0)
      for (const auto& a : p.addresses)
        if (a.ip == ip && a.port == port)
          return {a.name};
  }
  return {p.names.begin(), p.names.end()};
}

std::string subject_of(X509* cert) {
  char text[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text);
  return text;
}

/// OpenSSL's verify callback for CAF's contexts: the chain was checked against the CA
/// (preverify_ok); the leaf must also name the expected node.
int verify_peer_is_a_node(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 0 || X509_STORE_CTX_get_error_depth(store) != 0)
    return preverify_ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (ssl == nullptr || cert == nullptr)
    return 0;
  std::string where = "an unknown address";
  const auto expected = names_expected(ssl, where);
  if (expected.empty())
    return 1; // no topology registered: CAF's own check stands
  for (const auto& name : expected)
    if (X509_check_host(cert, name.data(), name.size(), X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
                        nullptr) == 1)
      return 1;
  std::string names;
  for (const auto& name : expected)
    names += (names.empty() ? "" : ", ") + name;
  log_warning("node port: refused the peer at " + where + ": its certificate (" + subject_of(cert) +
              ") names none of the expected nodes (" + names + ")");
  X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return 0;
}

unsigned int psk_for_server(SSL*, const char* identity, unsigned char* psk, unsigned int max_len) {
  auto& p = policy();
  std::shared_lock lock{p.mutex};
  if (p.psk_identity.empty() || identity == nullptr || p.psk_identity != identity ||
      max_len < p.psk.size()) {
    log_warning(std::string{"node port: refused a peer that presented the cluster identity '"} +
                (identity != nullptr ? identity : "") + "' (expected '" + p.psk_identity + "')");
    return 0;
  }
  std::memcpy(psk, p.psk.data(), p.psk.size());
  return static_cast<unsigned int>(p.psk.size());
}

unsigned int psk_for_client(SSL*, const char*, char* identity, unsigned int max_identity_len,
                            unsigned char* psk, unsigned int max_psk_len) {
  auto& p = policy();
  std::shared_lock lock{p.mutex};
  if (p.psk_identity.empty() || p.psk_identity.size() + 1 > max_identity_len ||
      max_psk_len < p.psk.size())
    return 0;
  std::memcpy(identity, p.psk_identity.c_str(), p.psk_identity.size() + 1);
  std::memcpy(psk, p.psk.data(), p.psk.size());
  return static_cast<unsigned int>(p.psk.size());
}

/// The pre-shared key: SHA-256 of the secret, so that secrets of any length make one key size.
std::array<unsigned char, 32> key_of(const std::string& secret) {
  std::array<unsigned char, 32> key{};
  const std::string input = "llmos cluster secret\n" + secret;
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), key.data(), &len, EVP_sha256(), nullptr);
  return key;
}

template <class Fn> Fn* next_symbol(const char* name) {
  return reinterpret_cast<Fn*>(::dlsym(RTLD_NEXT, name));
}

} // namespace

std::string admit_only_peers_of(const topology& topo) {
  auto& p = policy();
  std::unique_lock lock{p.mutex};
  if (!topo.cluster_secret.empty()) {
    const auto identity = "llmos:" + topo.cluster;
    const auto key = key_of(topo.cluster_secret);
    if (!p.psk_identity.empty() && (p.psk_identity != identity || p.psk != key))
      return "this process already runs a node of another cluster secret; run one cluster's "
             "nodes per process";
    p.psk_identity = identity;
    p.psk = key;
  }
  for (const auto& node : topo.nodes) {
    p.names.insert(node.name);
    for (auto& ip : numeric_addresses(node.host))
      p.addresses.push_back({std::move(ip), node.port, node.name});
  }
  return {};
}

} // namespace llmos

// CAF requires peer certificates with SSL_VERIFY_PEER and no callback: add the name check.
extern "C" void SSL_CTX_set_verify(SSL_CTX* ctx, int mode, SSL_verify_cb callback) {
  static auto* next = llmos::next_symbol<void(SSL_CTX*, int, SSL_verify_cb)>("SSL_CTX_set_verify");
  if (callback == nullptr && (mode & SSL_VERIFY_PEER) != 0 &&
      llmos::called_from_caf(__builtin_return_address(0)))
    callback = llmos::verify_peer_is_a_node;
  next(ctx, mode, callback);
}

// CAF's anonymous mode (no certificates) ends by choosing the anonymous cipher "AECDH-...": with
// a cluster secret, choose TLS 1.2 PSK suites with ephemeral keys instead, so the handshake
// succeeds only between holders of the secret.
extern "C" int SSL_CTX_set_cipher_list(SSL_CTX* ctx, const char* list) {
  static auto* next = llmos::next_symbol<int(SSL_CTX*, const char*)>("SSL_CTX_set_cipher_list");
  const bool anonymous = list != nullptr && std::strncmp(list, "AECDH", 5) == 0;
  if (!anonymous || !llmos::called_from_caf(__builtin_return_address(0)))
    return next(ctx, list);
  {
    auto& p = llmos::policy();
    std::shared_lock lock{p.mutex};
    if (p.psk_identity.empty())
      return next(ctx, list);
  }
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_psk_server_callback(ctx, llmos::psk_for_server);
  SSL_CTX_set_psk_client_callback(ctx, llmos::psk_for_client);
  return next(ctx, "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384");
}
