// Stop sequences of a completion (OpenAI's `stop`): the text ends before the first place any of
// them occurs, and that stop text is never sent. While a completion streams, a tail that could
// still grow into a stop sequence is held back until the next token decides it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace llmos::serving {

struct stop_scan {
  std::size_t safe = 0;                  ///< text[0, safe) can be sent whatever comes next
  std::optional<std::size_t> stopped_at; ///< where the first stop sequence starts, if one came
};

/// Scans the whole text so far; empty stop strings are ignored.
stop_scan scan_stops(const std::string& text, const std::vector<std::string>& stops);

} // namespace llmos::serving
