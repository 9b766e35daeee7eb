// The key=value options of one RPC call (`send ACTOR METHOD key=value ...`: param 2), read one
// by one. The first mistake (params that are not a map, a bad value, a missing key) is kept as
// the call's error and every read after it returns its fallback, so a method reads all it takes
// and checks once, like std::istream's fail bit: `if (o.refused(c)) return;` answers the call
// with the first mistake in reading order.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>

#include <caf/error.hpp>
#include <msgpack.hpp>

#include "llmos/actors/method_table.hpp"

namespace llmos {

class call_options {
public:
  call_options(const msgpack::object& params, std::string method);

  bool has(const std::string& key) const;

  /// The text of `key`, `fallback` when absent.
  std::string text(const std::string& key, const std::string& fallback = "") const;

  /// An unsigned number (`fallback` when absent) clamped to `max`; bad_params names the
  /// method, the key and the text.
  uint64_t whole(const std::string& key, uint64_t fallback, uint64_t max = UINT64_MAX);

  /// whole() clamped into a 32-bit field.
  uint32_t whole32(const std::string& key, uint32_t fallback);

  /// A finite real number, `fallback` when absent.
  double real(const std::string& key, double fallback);

  /// A signed integer in [lo, hi], `fallback` when absent.
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi);

  /// Records "METHOD: KEY=... is required" for the first of `keys` that is absent.
  void require(std::initializer_list<const char*> keys);

  /// Records bad_params `message` unless `ok` (or an earlier mistake is already recorded).
  void check(bool ok, const std::string& message);

  /// Records `error` unless an earlier mistake is already recorded.
  void fail(caf::error error);

  /// Every option as given (for methods that pass unknown keys on).
  const std::map<std::string, std::string>& all() const { return opts_; }

  /// True when a read failed.
  bool failed() const { return static_cast<bool>(error_); }

  /// The method named in every refusal.
  const std::string& method() const { return method_; }

  /// When a read failed, answers `c` with the first mistake and returns true.
  bool refused(rpc_call& c);

private:
  /// The text of `key`; nullptr when absent or after a mistake (every read then falls back).
  const std::string* value_of(const std::string& key) const;

  std::string method_;
  std::map<std::string, std::string> opts_;
  caf::error error_;
};

} // namespace llmos
