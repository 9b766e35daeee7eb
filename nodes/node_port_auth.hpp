// Who may connect to a node port, beyond what CAF 0.17's OpenSSL module checks by itself.
//
// With certificates (`tls:` in the topology) CAF checks only that a peer's certificate chains to
// the CA. Here the leaf certificate must also name a node of the topology (subject CN or a DNS
// subjectAltName), and a node that connects to another checks the exact name of the node at that
// address. Without certificates, a `cluster_secret` turns CAF's anonymous TLS mode into TLS-PSK:
// only peers that hold the secret complete the handshake, and the traffic is encrypted.
// Both act through OpenSSL calls CAF makes (interposed in the .cpp, like the error-queue fix)
// and only on CAF's own TLS contexts, never on the HTTP gateway's.
#pragma once

#include <string>

namespace llmos {

struct topology;

/// Makes this process's node port admit only peers of `topo` (see above). Several nodes of one
/// cluster may share a process; a second cluster secret in one process is refused (empty string
/// on success, else why).
std::string admit_only_peers_of(const topology& topo);

} // namespace llmos
