#include "http/request_head.hpp"

#include <algorithm>
#include <cctype>

namespace llmos::http {
namespace {

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  return line.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), line.begin(), [](char lower, char c) {
           return std::tolower(static_cast<unsigned char>(c)) == lower;
         });
}

} // namespace

bool head_scanner::complete(const std::string& buffer) {
  if (end_ > 0)
    return true;
  const auto from = scanned_ > 3 ? scanned_ - 3 : 0;
  if (auto end = buffer.find("\r\n\r\n", from); end != std::string::npos) {
    end_ = end + 4;
    return true;
  }
  scanned_ = buffer.size();
  return false;
}

std::size_t body_to_collect(std::string_view head) {
  std::size_t length = 0;
  int lengths = 0;
  for (std::size_t pos = head.find("\r\n");
       pos != std::string_view::npos && pos + 2 < head.size();) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line =
        head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    if (starts_with_nocase(line, "transfer-encoding:") || starts_with_nocase(line, "expect:") ||
        starts_with_nocase(line, "content-encoding:"))
      return 0;
    if (starts_with_nocase(line, "content-length:")) {
      auto value = line.substr(15);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      if (value.empty() || value.size() > 12 ||
          value.find_first_not_of("0123456789") != std::string_view::npos)
        return 0;
      length = std::stoull(std::string{value});
      ++lengths;
    }
    pos = next;
  }
  return lengths == 1 ? length : 0;
}

std::string without_leading_crlf(std::string bytes) {
  const auto start = bytes.find_first_not_of("\r\n");
  return start == std::string::npos ? std::string{} : bytes.substr(start);
}

} // namespace llmos::http
