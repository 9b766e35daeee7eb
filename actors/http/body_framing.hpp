// Which request bodies the gateway reads at all. cpp-httplib 0.11 enforces its payload limit
// only on a Content-Length body: a chunked body, one without a length (read until the client
// closes) and a gzip or brotli body (inflated in memory) are read whole, whatever their size
// (eight parallel chunked uploads grew a node by 1.3 GB). Those are refused from the headers,
// before a byte of the body is read, and so is a declared length over the limit (httplib would
// read and discard it all).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace llmos::http {

struct body_refusal {
  int status;          ///< 400, 411, 413 or 415
  std::string message; ///< for the client, naming the header
  std::string param;   ///< the header at fault
};

/// Why a request with these headers (looked up by name, "" when absent) is refused; nullopt
/// when its body, if any, is read within `limit` bytes.
std::optional<body_refusal>
refuse_body(const std::string& method,
            const std::function<std::string(const std::string& header)>& header, std::size_t limit);

} // namespace llmos::http
