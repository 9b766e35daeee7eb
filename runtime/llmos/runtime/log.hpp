// Minimal structured logging to stderr: one whole line per call (never interleaved between
// threads), with a wall-clock time and a level. The launcher prefixes lines with the node name.
#pragma once

#include <string_view>

namespace llmos {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

/// Lines below this level are dropped (default info; LLMOS_LOG=debug|info|warning|error).
void set_log_level(log_level level);

/// Writes "HH:MM:SS.mmm LEVEL text" to stderr.
void log(log_level level, std::string_view text);

inline void log_info(std::string_view text) {
  log(log_level::info, text);
}
inline void log_warning(std::string_view text) {
  log(log_level::warning, text);
}
inline void log_error(std::string_view text) {
  log(log_level::error, text);
}
inline void log_debug(std::string_view text) {
  log(log_level::debug, text);
}

} // namespace llmos
