#include "http/process_sockets.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace llmos::http {

uint16_t port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

std::string host_of(const sockaddr_storage& addr, socklen_t len) {
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0)
    return {};
  return host;
}

int find_socket(const std::function<bool(int fd)>& match) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    // The name is kept: strtol's end pointer points into it (a temporary's would dangle).
    const auto name = entry.path().filename().string();
    char* end = nullptr;
    const long fd = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0')
      continue;
    struct stat st {};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode))
      continue;
    if (match(static_cast<int>(fd)))
      return static_cast<int>(fd);
  }
  return -1;
}

} // namespace llmos::http
