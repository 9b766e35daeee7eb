#include "llmos/runtime/rpc_client.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"

namespace llmos::rpc {
namespace {

caf::error endpoint_error(const std::string& text, const std::string& what) {
  return make_llmos_error(error_code::bad_option,
                          "endpoint '" + text + "': " + what +
                              "; expected HOST:PORT such as 127.0.0.1:7000 or [::1]:7000");
}

} // namespace

caf::expected<std::pair<std::string, uint16_t>> parse_endpoint(const std::string& text) {
  if (text.empty())
    return endpoint_error(text, "empty");
  std::string host;
  std::string port_text;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos)
      return endpoint_error(text, "missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 == text.size())
      return endpoint_error(text, "missing port");
    if (text[close + 1] != ':')
      return endpoint_error(text, "expected ':' after ']'");
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return endpoint_error(text, "missing port");
    if (text.find(':') != colon)
      return endpoint_error(text, "an IPv6 address needs brackets");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty())
    return endpoint_error(text, "empty host");
  if (port_text.empty())
    return endpoint_error(text, "missing port");
  if (!std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return endpoint_error(text, "port '" + port_text + "' is not a number");
  // Port 0 is kept: a server told to listen on it picks a free port (tests do).
  if (port_text.size() > 5 || std::stoul(port_text) > 65535)
    return endpoint_error(text, "port " + port_text + " is out of range 0-65535");
  return std::pair{host, static_cast<uint16_t>(std::stoul(port_text))};
}

} // namespace llmos::rpc
