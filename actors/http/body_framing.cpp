#include "http/body_framing.hpp"

#include <algorithm>
#include <cctype>

namespace llmos::http {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

} // namespace

std::optional<body_refusal>
refuse_body(const std::string& method,
            const std::function<std::string(const std::string& header)>& header,
            std::size_t limit) {
  const auto te = lower(header("Transfer-Encoding"));
  if (!te.empty() && te != "identity")
    return body_refusal{411,
                        "Transfer-Encoding: " + te +
                            " is not accepted: send the body with a Content-Length of at most " +
                            std::to_string(limit) + " bytes",
                        "Transfer-Encoding"};
  const auto ce = lower(header("Content-Encoding"));
  if (!ce.empty() && ce != "identity")
    return body_refusal{415,
                        "Content-Encoding: " + ce + " is not accepted: send the body uncompressed",
                        "Content-Encoding"};
  const auto length = header("Content-Length");
  if (length.empty()) {
    // httplib reads a POST, PUT or PATCH without a length until the client closes.
    if (method == "POST" || method == "PUT" || method == "PATCH")
      return body_refusal{
          411, method + " needs a Content-Length (at most " + std::to_string(limit) + " bytes)",
          "Content-Length"};
    return std::nullopt;
  }
  const bool digits = length.size() <= 19 && std::all_of(length.begin(), length.end(), [](char c) {
                        return c >= '0' && c <= '9';
                      });
  if (!digits)
    return body_refusal{400, "Content-Length '" + length + "' is not a number of bytes",
                        "Content-Length"};
  if (std::stoull(length) > limit)
    return body_refusal{
        413, "the body is larger than the limit of " + std::to_string(limit) + " bytes", "body"};
  return std::nullopt;
}

} // namespace llmos::http
