#include "gateway/call_options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>

#include "gateway/rpc_params.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

caf::error bad_params(const std::string& message) {
  return make_llmos_error(error_code::bad_params, message);
}

} // namespace

call_options::call_options(const msgpack::object& params, std::string method)
    : method_(std::move(method)) {
  auto opts = param_map(params, 2, method_);
  if (opts)
    opts_ = std::move(*opts);
  else
    error_ = std::move(opts.error());
}

bool call_options::has(const std::string& key) const {
  return opts_.count(key) > 0;
}

std::string call_options::text(const std::string& key, const std::string& fallback) const {
  auto i = opts_.find(key);
  return i == opts_.end() ? fallback : i->second;
}

uint64_t call_options::whole(const std::string& key, uint64_t fallback, uint64_t max) {
  const auto* t = value_of(key);
  if (t == nullptr)
    return fallback;
  char* end = nullptr;
  const auto v = std::strtoull(t->c_str(), &end, 10);
  if (!t->empty() && *end == '\0' && (*t)[0] != '-')
    return std::min<uint64_t>(v, max);
  fail(bad_params(method_ + ": option '" + key + "' must be a whole number, got '" + *t + "'"));
  return fallback;
}

uint32_t call_options::whole32(const std::string& key, uint32_t fallback) {
  return static_cast<uint32_t>(whole(key, fallback, UINT32_MAX));
}

double call_options::real(const std::string& key, double fallback) {
  const auto* t = value_of(key);
  if (t == nullptr)
    return fallback;
  char* end = nullptr;
  const double v = std::strtod(t->c_str(), &end);
  if (!t->empty() && *end == '\0' && std::isfinite(v))
    return v;
  fail(bad_params(method_ + ": option '" + key + "' must be a number, got '" + *t + "'"));
  return fallback;
}

int64_t call_options::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  const auto* t = value_of(key);
  if (t == nullptr)
    return fallback;
  try {
    std::size_t used = 0;
    const long long v = std::stoll(*t, &used);
    if (used == t->size() && v >= lo && v <= hi)
      return static_cast<int64_t>(v);
  } catch (const std::exception&) { // not a number, or out of long long's range
  }
  fail(bad_params(method_ + ": " + key + " must be an integer from " + std::to_string(lo) + " to " +
                  std::to_string(hi) + ", got '" + *t + "'"));
  return fallback;
}

void call_options::require(std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    check(has(key), method_ + ": " + key + "=... is required");
}

void call_options::check(bool ok, const std::string& message) {
  if (!ok)
    fail(bad_params(message));
}

void call_options::fail(caf::error error) {
  if (!failed())
    error_ = std::move(error);
}

const std::string* call_options::value_of(const std::string& key) const {
  auto i = opts_.find(key);
  return failed() || i == opts_.end() ? nullptr : &i->second;
}

bool call_options::refused(rpc_call& c) {
  if (!failed())
    return false;
  c.reply(std::move(error_));
  return true;
}

} // namespace llmos
