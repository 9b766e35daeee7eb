// What the front door reads from a request's head itself, before cpp-httplib sees the request:
// whether the poll thread may collect the body (it must know the body's end from the head alone)
// and where a pipelined next request starts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmos::http {

/// Where a request's head ends in the bytes received so far: a blank line ending in CRLF
/// (cpp-httplib skips header lines that end in a bare LF and reads on, so "\n\n" is no end for
/// it). Each look searches only what arrived since the last one.
class head_scanner {
public:
  /// Whether `buffer` (the same bytes as before, maybe more) holds a whole head.
  bool complete(const std::string& buffer);
  /// The head's length with its blank line, 0 until complete.
  std::size_t end() const { return end_; }

private:
  std::size_t scanned_ = 0; ///< bytes known to hold no end of head
  std::size_t end_ = 0;
};

/// The body length a head (request line and headers, CRLF-separated) declares when the front
/// door may collect the body itself: by one well-formed Content-Length, without
/// Transfer-Encoding, Content-Encoding (refused or inflated by the worker from the head alone)
/// or `Expect` (such a client waits for the worker's 100 Continue before it sends). 0 otherwise:
/// the worker reads (or refuses) whatever follows.
std::size_t body_to_collect(std::string_view head);

/// A body's stray CRLF (some clients add one after a POST body) is not the start of a request.
std::string without_leading_crlf(std::string bytes);

} // namespace llmos::http
