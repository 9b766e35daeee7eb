#include "serving/core/stop_text.hpp"

#include <algorithm>

namespace llmos::serving {

stop_scan scan_stops(const std::string& text, const std::vector<std::string>& stops) {
  stop_scan out;
  for (const auto& s : stops) {
    if (s.empty())
      continue;
    const auto at = text.find(s);
    if (at != std::string::npos && (!out.stopped_at || at < *out.stopped_at))
      out.stopped_at = at;
  }
  if (out.stopped_at) {
    out.safe = *out.stopped_at;
    return out;
  }
  // The longest tail of the text that is a proper prefix of a stop sequence stays back.
  std::size_t held = 0;
  for (const auto& s : stops)
    for (std::size_t k = std::min(s.size() - (s.empty() ? 0 : 1), text.size()); k > held; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        held = k;
        break;
      }
  out.safe = text.size() - held;
  return out;
}

} // namespace llmos::serving
