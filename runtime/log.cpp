#include "llmos/runtime/log.hpp"

#include "llmos/messages/enum_names.hpp"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

namespace llmos {
namespace {

log_level level_from_env() {
  const char* v = std::getenv("LLMOS_LOG");
  if (v == nullptr)
    return log_level::info;
  if (std::strcmp(v, "debug") == 0)
    return log_level::debug;
  if (std::strcmp(v, "warning") == 0)
    return log_level::warning;
  if (std::strcmp(v, "error") == 0)
    return log_level::error;
  return log_level::info;
}

std::atomic<log_level> current_level{level_from_env()};
std::mutex log_mutex;

constexpr enum_name<log_level> level_names[] = {{log_level::debug, "DEBUG"},
                                                {log_level::info, "INFO "},
                                                {log_level::warning, "WARN "},
                                                {log_level::error, "ERROR"}};

const char* level_name(log_level l) {
  return name_of(level_names, l, "?").data();
}

} // namespace

void set_log_level(log_level level) {
  current_level = level;
}

void log(log_level level, std::string_view text) {
  if (level < current_level.load())
    return;
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  std::string line;
  line.reserve(text.size() + 24);
  line.append(stamp).append(" ").append(level_name(level)).append(" ").append(text).append("\n");
  // One fwrite of the whole line under a lock: lines from different threads never interleave.
  std::lock_guard<std::mutex> guard{log_mutex};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace llmos
