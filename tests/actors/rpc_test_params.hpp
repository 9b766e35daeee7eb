// Calls as a msgpack-RPC client packs them, for the gateway's tests.
#pragma once

#include <map>
#include <string>
#include <tuple>

#include <msgpack.hpp>

namespace llmos::test {

using object_map = std::map<std::string, msgpack::object>;
using string_map = std::map<std::string, std::string>;

/// Packs positional params as the msgpack array a client sends.
template <class... Ts> std::string params(const Ts&... xs) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, std::make_tuple(xs...));
  return std::string{buf.data(), buf.size()};
}

} // namespace llmos::test
